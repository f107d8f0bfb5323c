"""The compiled graph for ``langgraph dev`` / LangGraph Studio / LangGraph Platform (see
langgraph.json, which loads this file by path: imports are absolute).

A served graph answers HTTP clients, so its input and ``configurable`` are untrusted: the graph is
built with a :class:`~sinoloc.agent.boundary.ServeBoundary` read from the environment when the
server starts. The policy follows the operator's ``SINOLOC_LLM`` (default: the deterministic
offline policy; ``python:`` and ``local:`` specs are allowed there); a client may pick ``none``,
the operator's model or one listed in ``SINOLOC_SERVE_MODELS`` with ``configurable.llm`` and set
``LocateSettings`` fields except ``prior`` (budgets at most the operator's). Images come as
uploads (base64 / data: URI) or as names under ``SINOLOC_IMAGES_ROOT`` (unset: no path is
accepted). The server supplies the
checkpointer, so threads and follow-up questions work there too.
"""

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.build import build_locator
from sinoloc.agent.llm.spec import environment_spec
from sinoloc.agent.settings import Environment, LocateSettings


def build_served_graph(environ: dict[str, str] | None = None, checkpointer=None):
    """The graph a server runs: the operator's locator (built by the one builder, its model
    from the environment read once here; the model and the default components checked before
    the first request), the clients behind the boundary (each request's own settings; a client
    may pick only the operator's model or one the operator allowed)."""
    boundary = ServeBoundary.from_env(environ)
    locator = build_locator(LocateSettings(offline=boundary.offline),
                            environment_spec(Environment.read(environ)))
    boundary = boundary.model_copy(update={"operator_model": locator.policy.name})
    return locator.graph(checkpointer, boundary)


graph = build_served_graph()

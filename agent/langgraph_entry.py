"""The compiled graph for ``langgraph dev`` / LangGraph Studio / LangGraph Platform (see
langgraph.json, which loads this file by path: imports are absolute).

A served graph answers HTTP clients, so its input and ``configurable`` are untrusted: the graph is
built with a :class:`~sinoloc.agent.boundary.ServeBoundary` read from the environment when the
server starts. The policy follows the operator's ``SINOLOC_LLM`` (default: the deterministic
offline policy; ``python:`` and ``local:`` specs are allowed there); a client may pick ``none`` or
a ``provider:model`` from ``SINOLOC_SERVE_PROVIDERS`` with ``configurable.llm`` and set
``LocateSettings`` fields except ``prior``. Images come as uploads (base64 / data: URI) or as
names under ``SINOLOC_IMAGES_ROOT`` (unset: no path is accepted). The server supplies the
checkpointer, so threads and follow-up questions work there too.
"""

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.build import checked_policy
from sinoloc.agent.graph import build_graph
from sinoloc.agent.llm.spec import environment_spec
from sinoloc.agent.settings import Environment


def build_served_graph(environ: dict[str, str] | None = None, checkpointer=None):
    """The graph a server runs: the operator's policy (built by the one builder from the
    environment, read once here), the clients behind the boundary."""
    boundary = ServeBoundary.from_env(environ)
    spec = environment_spec(Environment.read(environ))
    return build_graph(checked_policy(spec, boundary.offline), checkpointer, boundary=boundary)


graph = build_served_graph()

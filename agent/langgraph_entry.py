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

import os

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.graph import build_graph
from sinoloc.agent.llm.spec import ENV_LLM
from sinoloc.agent.policies import build_policy


def build_served_graph(environ: dict[str, str] | None = None, checkpointer=None):
    """The graph a server runs: the operator's policy, the clients behind the boundary."""
    env = os.environ if environ is None else environ
    policy = build_policy(env.get(ENV_LLM, "none"))
    boundary = ServeBoundary.from_env(env).model_copy(update={"operator_model": policy.name})
    return build_graph(policy, checkpointer, boundary=boundary)


graph = build_served_graph()

"""The compiled graph for ``langgraph dev`` / LangGraph Studio / LangGraph Platform (see
langgraph.json, which loads this file by path: imports are absolute).

The policy follows ``SINOLOC_LLM`` (default: the deterministic offline policy); a run may pick
another with ``configurable.llm`` and set any LocateSettings field in ``configurable``. The
server supplies the checkpointer, so threads and follow-up questions work there too.
"""

from sinoloc.agent.graph import build_graph
from sinoloc.agent.llm import build_policy

graph = build_graph(build_policy())

"""The compiled graph for ``langgraph dev`` / LangGraph Studio (see langgraph.json); the policy
follows ``SINOLOC_LLM`` (default: the deterministic offline policy)."""

from .graph import build_graph
from .llm import build_policy

graph = build_graph(build_policy())

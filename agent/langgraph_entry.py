"""The compiled graph for ``langgraph dev`` / LangGraph Studio (see langgraph.json)."""

from .graph import build_graph

graph = build_graph()

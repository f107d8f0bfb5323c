"""One trajectory as a subgraph: the graph's own policy ⇄ tools → verify loop on a copy of the
prelude's state (its sampling in ``sample``, its budgets in its request), ending in a verified
submission or, when none passed, the fused answer of its own evidence. Its result goes to the
parent's ``trajectories`` channel; nothing else of it reaches the parent until the selector
pools them (:mod:`sinoloc.agent.samples.select`)."""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict

from sinoloc.agent.boundary import ServeBoundary, guarded
from sinoloc.agent.nodes.commit import NEVER_PASSED
from sinoloc.agent.nodes.tools import run_tools
from sinoloc.agent.nodes.verify import verify_node
from sinoloc.agent.reasoning.answering import fused_answer
from sinoloc.agent.records.session import sample_scope
from sinoloc.agent.state import FUSION, GeoState, evidence_in
from sinoloc.tools.regions import get_region_index

RESULT_KEYS = ("answer", "answered_by", "verdict", "evidence", "ocr_spans", "tool_trace",
               "outbound", "poi_queries", "ignored_text", "warnings", "usage", "backend",
               "backend_fallback", "budget_exhausted", "messages", "timings", "started_at",
               "verify_rounds")


class TrajectoryState(GeoState, total=False):
    sample: dict[str, Any]  # Sample: its index, variant, temperature and shared cache
    trajectories: Annotated[list[dict[str, Any]], operator.add]


class TrajectoryOutput(TypedDict, total=False):
    trajectories: Annotated[list[dict[str, Any]], operator.add]


def finish(state: TrajectoryState) -> dict:
    """The trajectory's result: its state, with the fused answer of its evidence where no
    submitted answer passed (as commit does for a single trajectory)."""
    result: dict[str, Any] = {key: state.get(key) for key in RESULT_KEYS}
    verdict = state.get("verdict") or {}
    rejected = state.get("answered_by") != FUSION or state.get("answer") is None
    if not verdict.get("accepted") and rejected:
        fused, _, _ = fused_answer(evidence_in(state), get_region_index())
        result.update(answer=fused.model_dump(mode="json"), answered_by=FUSION,
                      warnings=[*(state.get("warnings") or []), NEVER_PASSED])
    result["index"] = state["sample"]["index"]
    result["sample"] = state["sample"]
    return {"trajectories": [result]}


def in_trajectory(node):
    """``node`` with the exchanges it makes keyed by its trajectory in a run record
    (:func:`~sinoloc.agent.records.session.sample_scope`): the trajectories run concurrently,
    and a replay serves each its own."""
    def index(state) -> int | None:
        return (state.get("sample") or {}).get("index")

    def with_config(state, config=None):
        with sample_scope(index(state)):
            return node(state, config)

    def without_config(state):
        with sample_scope(index(state)):
            return node(state)

    scoped = with_config if "config" in inspect.signature(node).parameters else without_config
    scoped.__name__ = getattr(node, "__name__", "node")
    return scoped


class Routes(NamedTuple):
    """The main graph's pure routers after its policy, tools and verify nodes."""

    after_policy: Callable
    after_tools: Callable
    after_verify: Callable


def build_trajectory(policy_node, routes: Routes, boundary: ServeBoundary | None = None):
    """The compiled trajectory subgraph around the graph's ``policy_node``, routed by the
    graph's own ``routes``; a served graph's ``boundary`` checks the state each of its nodes
    reads, as in the main graph. Its verify ends at ``finish`` whatever comes next in the main
    graph (``review`` comes after ``select``)."""
    graph = StateGraph(TrajectoryState, output_schema=TrajectoryOutput)
    # the nodes are typed for GeoState: they are given the trajectory's whole state (its
    # ``sample`` picks its sampling and its tool cache)
    for name, node in (("policy", policy_node), ("tools", run_tools), ("verify", verify_node)):
        graph.add_node(name, guarded(in_trajectory(node), boundary), input_schema=TrajectoryState)
    graph.add_node("finish", finish)
    graph.add_edge(START, "policy")
    graph.add_conditional_edges("policy", routes.after_policy,
                                {"tools": "tools", "verify": "verify", "__end__": "finish"})
    graph.add_conditional_edges("tools", routes.after_tools)
    graph.add_conditional_edges("verify", routes.after_verify,
                                {"commit": "finish", "review": "finish", "policy": "policy"})
    graph.add_edge("finish", "__end__")
    return graph.compile(name="trajectory")

"""The LangGraph state graph: ingest → prelude → policy ⇄ tools → verify → commit. This module
is the wiring and the routers only; each node is a module of :mod:`sinoloc.agent.nodes`.

A thread is a conversation: a new ``request`` (an image) enters at ``ingest`` and starts the
image's findings afresh; a ``question`` about the current image enters at ``followup`` and goes
to the policy, which answers in words, calls tools again or submits a revised answer.

With ``samples`` > 1 the prelude fans out to several concurrent trajectories of the policy
loop (:mod:`sinoloc.agent.samples`), and a selector takes one answer before ``review`` (with
that setting) and ``commit``.

``prelude`` runs the visual prior, OCR and the clue lookup and shows the numbered evidence to the
policy; ``policy`` is the slot where a language model or the deterministic policy chooses the
next tool call; ``verify`` accepts a submitted answer or sends it back with reasons (at most
``max_verify_rounds`` times); with the ``review`` setting, ``review`` stops for a person to
approve, edit, reject or add a clue (agent/review.py); ``commit`` turns the accepted answer
into a GeoPrediction, or the fusion engine's answer when the submitted one never passed.

Settings (:class:`~sinoloc.agent.settings.LocateSettings`) are the graph's ``context_schema``:
LangGraph Studio shows them, and a run takes them from ``context=`` or ``configurable``.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from langchain_core.messages import AIMessage, ToolCall
from langgraph.graph import END, START, StateGraph

from sinoloc.agent.boundary import ServeBoundary, guarded
from sinoloc.agent.budgets import is_new_image
from sinoloc.agent.nodes.commit import commit
from sinoloc.agent.nodes.followup import NO_IMAGE_YET, followup
from sinoloc.agent.nodes.ingest import ingest
from sinoloc.agent.nodes.policy import make_policy_node
from sinoloc.agent.nodes.prelude import prelude
from sinoloc.agent.nodes.review import review_node
from sinoloc.agent.nodes.tools import run_tools
from sinoloc.agent.nodes.verify import verify_node
from sinoloc.agent.policies import Policy, build_policy
from sinoloc.agent.policies.deterministic import DeterministicPolicy
from sinoloc.agent.samples.nodes import add_samples, route_after_prelude
from sinoloc.agent.samples.trajectory import Routes
from sinoloc.agent.settings import Environment, LocateSettings
from sinoloc.agent.state import GeoInput, GeoOutput, GeoState, last_ai_message, request_of
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL

RECURSION_LIMIT = 200  # graph steps per run: every caller's recursion_limit (far above the budgets')

# ------------------------------------------------------------------ routing (pure)
def route_start(state: GeoState) -> Literal["ingest", "followup"]:
    return "followup" if state.get("question") and not is_new_image(state) else "ingest"


def route_after_followup(state: GeoState) -> Literal["policy", "__end__"]:
    return "__end__" if state.get("reply") else "policy"  # END


def _calls(state: GeoState) -> list[ToolCall]:
    message = state["messages"][-1]
    return message.tool_calls if isinstance(message, AIMessage) else []


def route_after_policy(state: GeoState) -> Literal["tools", "verify", "__end__"]:
    calls = _calls(state)
    if any(c["name"] != SUBMIT_TOOL for c in calls):
        return "tools"  # run the other calls first; tools routes on to verify
    if calls:
        return "verify"
    return "__end__"  # END: unreachable with the policy node's fallback; kept as a guard


def route_after_tools(state: GeoState) -> Literal["verify", "policy"]:
    submitted = any(c["name"] == SUBMIT_TOOL for c in last_ai_message(state).tool_calls)
    return "verify" if submitted else "policy"


def route_after_verify(state: GeoState) -> Literal["commit", "review", "policy"]:
    verdict = state.get("verdict") or {}
    request = request_of(state)
    if verdict.get("accepted") or state.get("verify_rounds", 0) >= request.max_verify_rounds:
        return "review" if request.review else "commit"
    return "policy"


def route_after_review(state: GeoState) -> Literal["commit", "review", "policy"]:
    """Where the person's decision leads (the review node wrote it)."""
    following = (state.get("review") or {}).get("next")
    return following if following in ("review", "policy") else "commit"


def build_graph(policy: Policy | None = None, checkpointer=None, *, llm: str | None = None,
                chat_model=None, base_url: str | None = None,
                boundary: ServeBoundary | None = None):
    """The compiled graph, ready to run alone or as a node of a parent graph (its input is
    ``{"request": {...}}`` or ``{"question": ...}``, its output ``prediction`` / ``reply``).

    The policy is one of ``policy``, an ``llm`` spec (``"google_genai:gemini-2.5-flash"``) or
    a LangChain ``chat_model``; none gives the deterministic offline policy. A run's
    ``configurable`` may set ``llm`` and any :class:`LocateSettings` field (so may its ``context``). Give a
    ``checkpointer`` for threads (follow-up questions, resuming). ``base_url`` (default
    ``SINOLOC_LLM_BASE_URL``) also serves the models a run's ``configurable["llm"]`` names. A
    served graph gives a
    ``boundary`` (agent/boundary.py): its clients' requests and ``configurable`` are untrusted."""
    if base_url is None:  # as for Geolocator(): the environment's server, read here at the edge
        base_url = Environment.read().base_url
    if llm is not None or chat_model is not None:
        policy = build_policy(llm, policy=policy, chat_model=chat_model, base_url=base_url)
    graph = StateGraph(GeoState, context_schema=LocateSettings, input_schema=GeoInput,
                       output_schema=GeoOutput)
    graph.add_node("ingest", partial(ingest, boundary=boundary) if boundary else ingest)
    graph.add_node("followup", followup)
    # nodes that open files, call models or count budgets read a served graph's thread state
    # through its boundary (clients can write thread state): agent/boundary.py
    graph.add_node("prelude", guarded(prelude, boundary))
    policy_node = make_policy_node(policy or DeterministicPolicy(), boundary, base_url)
    graph.add_node("policy", guarded(policy_node, boundary))
    graph.add_node("tools", guarded(run_tools, boundary))
    graph.add_node("verify", guarded(verify_node, boundary))
    graph.add_node("review", guarded(review_node, boundary))
    # samples > 1: samples_plan → trajectories → select → review or commit (guarded alike)
    add_samples(graph, policy or DeterministicPolicy(), policy_node,
                Routes(route_after_policy, route_after_tools, route_after_verify), boundary, base_url)
    graph.add_node("commit", commit)
    graph.add_conditional_edges(START, route_start)
    graph.add_edge("ingest", "prelude")
    graph.add_conditional_edges("followup", route_after_followup)
    graph.add_conditional_edges("prelude", route_after_prelude)
    graph.add_conditional_edges("policy", route_after_policy)
    graph.add_conditional_edges("tools", route_after_tools)
    graph.add_conditional_edges("verify", route_after_verify)
    graph.add_conditional_edges("review", route_after_review)
    graph.add_edge("commit", END)
    return graph.compile(checkpointer=checkpointer, name="sinoloc")


__all__ = ["NO_IMAGE_YET", "RECURSION_LIMIT", "build_graph", "route_after_followup", "route_after_policy",
           "route_after_review", "route_after_tools", "route_after_verify", "route_start"]

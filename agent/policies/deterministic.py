"""The policy slot: the node that chooses the next tool call.

A policy returns the next :class:`AIMessage` (with tool calls) or a :class:`PolicyTurn` when it
spent model calls or failed. :class:`DeterministicPolicy` fills the slot with the fixed order of
the offline default (prelude → geocoding of street-level text → submit the fused answer); a
language model fills the same slot through :class:`~sinoloc.agent.policies.model.ChatModelPolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from langchain_core.messages import AIMessage, AnyMessage

from sinoloc.agent.budgets import CHAT
from sinoloc.agent.reasoning.answering import fused_answer
from sinoloc.agent.schemas import ToolTrace, Verdict
from sinoloc.agent.state import GeoState, evidence_in
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL
from sinoloc.agent.toolbox.runner import tool_call
from sinoloc.tools.regions import get_region_index

MAX_GEOCODE_CALLS = 5
NEEDS_A_MODEL_WHY = (
    "The deterministic offline policy answers images, not questions: free-form follow-ups "
    "(\"why not 江苏?\", \"zoom into the blue board\") need a language model.")
NEEDS_A_MODEL_STILL = "The answer, its candidates, evidence and map are all available without one."
# the graph's own words are for Python, where it runs embedded; each surface swaps in its own
# (app.chat.events.model_advice): the chat command's option, the web server's
PYTHON_MODEL_ADVICE = (
    "Give the locator one: Geolocator(llm=\"google_genai:gemini-2.5-flash\") or "
    "Geolocator(llm=\"local:/path/to/qwen-vl\") (docs/models.md in the "
    "repository says how to set one up).")


def needs_a_model(advice: str = PYTHON_MODEL_ADVICE) -> str:
    """The reply to a follow-up without a model, with the advice that fits where it is read."""
    return f"{NEEDS_A_MODEL_WHY} {advice} {NEEDS_A_MODEL_STILL}"


NEEDS_A_MODEL = needs_a_model()


@dataclass
class PolicyTurn:
    """One turn of a policy: the messages it adds (the last one an AIMessage with tool calls),
    the model usage it spent, and the failure that ended it, if any."""

    messages: list[AnyMessage] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    failure: Exception | None = None


class Policy(Protocol):
    name: str

    def __call__(self, state: GeoState) -> AIMessage | PolicyTurn: ...


def fused_submission(state: GeoState, note: str = "") -> AIMessage:
    """Submit the fusion engine's answer (reflecting on the last verdict, if any)."""
    evidence = evidence_in(state)
    verdict = Verdict.model_validate(state["verdict"]) if state.get("verdict") else None
    answer, _, _ = fused_answer(evidence, get_region_index(), verdict)
    if note:
        answer = answer.model_copy(update={"reasoning": f"{note} {answer.reasoning}"})
    return AIMessage(content=answer.reasoning, tool_calls=[
        tool_call(SUBMIT_TOOL, answer.model_dump(mode="json"), call_id(state, 0))])


def call_id(state: GeoState, index: int) -> str:
    """The id of this turn's ``index``-th call: from the conversation's length, so that a run
    and its replay (agent/records) name their calls alike, and unique within a thread."""
    return f"call_{len(state.get('messages', []))}_{index}"


class DeterministicPolicy:
    name = "deterministic"

    def __call__(self, state: GeoState) -> AIMessage:
        if state.get("mode") == CHAT:  # a follow-up question: say what it would need
            return AIMessage(content=NEEDS_A_MODEL)
        # the graph's prelude has already run the prior, OCR and the clue lookup
        traces = [ToolTrace.model_validate(t) for t in state.get("tool_trace", [])]
        asked = {(t.args.get("query"), t.args.get("within")) for t in traces
                 if t.tool == "geocode_poi"}
        pending = [q for q in state.get("poi_queries", [])
                   if (q["query"], q.get("within")) not in asked][:MAX_GEOCODE_CALLS]
        if pending and len(asked) < MAX_GEOCODE_CALLS:
            return AIMessage(content="Geocode the street-level text.", tool_calls=[
                tool_call("geocode_poi", {"query": q["query"], "within": q.get("within")},
                          call_id(state, i)) for i, q in enumerate(pending)])
        return fused_submission(state)

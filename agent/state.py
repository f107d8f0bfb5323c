"""The graph state: JSON-serialisable (dicts of pydantic dumps, LangChain messages), no pixels;
its reducers; and the typed readers nodes use instead of validating dicts themselves.

Evidence accumulates with stable ids (validated once, when a tool returns it); the belief is
computed from it when needed (:func:`sinoloc.tools.fusion.fuse`, cached per evidence),
never stored beside it.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from sinoloc.agent.schemas import GeoPrediction
from sinoloc.agent.settings import LocateRequest
from sinoloc.tools.evidence import Evidence


def merge_dicts(left: dict | None, right: dict | None) -> dict:
    return {**(left or {}), **(right or {})}


def add_counts(left: dict | None, right: dict | None) -> dict:
    """Sum counters key by key (model calls, tokens)."""
    out = dict(left or {})
    for key, value in (right or {}).items():
        out[key] = out.get(key, 0) + value
    return out


class GeoState(TypedDict, total=False):
    request: dict[str, Any]  # LocateRequest
    image: dict[str, Any]  # ImageMeta
    messages: Annotated[list[AnyMessage], add_messages]
    evidence: Annotated[list[dict[str, Any]], operator.add]  # Evidence, ids E1…
    ocr_spans: Annotated[list[dict[str, Any]], operator.add]  # OcrSpan, ids T1…
    ignored_text: Annotated[list[dict[str, Any]], operator.add]
    poi_queries: Annotated[list[dict[str, Any]], operator.add]
    outbound: Annotated[list[dict[str, Any]], operator.add]  # OutboundQuery: what left the machine
    tool_trace: Annotated[list[dict[str, Any]], operator.add]  # ToolTrace
    answer: dict[str, Any] | None
    locatability: dict[str, Any] | None  # Locatability, computed after the prelude
    verdict: dict[str, Any] | None
    verify_rounds: int
    review: dict[str, Any] | None  # the last human review decision: action, next node, feedback
    prediction: dict[str, Any] | None
    timings: Annotated[dict[str, float], merge_dicts]
    warnings: Annotated[list[str], operator.add]
    backend: str
    backend_fallback: str | None
    answered_by: str  # who produced the submitted answer: a model's name or "fusion"
    usage: Annotated[dict[str, int], add_counts]  # model_calls, model_errors, tokens
    started_at: float  # wall clock (time.time()) at the start of the turn, for the time budget
    budget_exhausted: str | None
    # conversation (sinoloc chat, LangGraph threads): follow-up questions about the image
    ingested_request: dict[str, Any] | None  # the request ingest last ran on
    question: str | None  # input: a follow-up question about the current image
    mode: Literal["locate", "chat"]  # a new image | a follow-up question
    turn_base: dict[str, int]  # tool and model calls spent before this turn (budgets are per turn)
    reply: str | None  # the answer to the last follow-up question
    transcript: Annotated[list[dict[str, Any]], operator.add]  # TranscriptEntry, what a person saw
    # samples > 1 (agent/samples): the plan, the trajectories' results until the selector pools
    # them, and the report of the turn that made it (its "run" is that turn's started_at)
    samples_plan: dict[str, Any] | None
    trajectories: Annotated[list[dict[str, Any]], operator.add]
    samples: dict[str, Any] | None


class GeoInput(TypedDict, total=False):
    """Start a thread with ``request`` (a new image); ask about its image with ``question``."""

    request: LocateRequest
    question: str


class GeoOutput(TypedDict, total=False):
    prediction: GeoPrediction | None
    reply: str | None
    warnings: list[str]


FUSION = "fusion"  # ``answered_by`` when the fusion engine's answer was submitted


# ------------------------------------------------------------------ typed readers
def last_ai_message(state: Mapping[str, Any]) -> AIMessage:
    """The policy's last message (the tool calls the tools and verify nodes act on)."""
    return next(m for m in reversed(state["messages"]) if isinstance(m, AIMessage))


def evidence_id(number: int) -> str:
    """Evidence is numbered E1, E2, … in the order it was found (ingest's EXIF fix first)."""
    return f"E{number}"


def evidence_in(state: Mapping[str, Any]) -> list[Evidence]:
    """The run's evidence as typed records: the one place the state's evidence dicts become
    :class:`Evidence` (a checkpoint written elsewhere is checked here too)."""
    return [e if isinstance(e, Evidence) else Evidence.model_validate(e)
            for e in state.get("evidence") or []]


def request_of(state: Mapping[str, Any]) -> LocateRequest:
    """The resolved request ingest stored (its settings and the image path)."""
    return LocateRequest.model_validate(state["request"])

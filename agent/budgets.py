"""Turns and their budgets: a new image on a thread starts a fresh run, a follow-up question
continues the current image's; the tool-call, model-call and wall-time budgets count per turn.
(How the request's settings are resolved is :mod:`sinoloc.agent.settings`.)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.messages import AIMessage, RemoveMessage, ToolMessage
from langgraph.graph.message import REMOVE_ALL_MESSAGES
from langgraph.types import Overwrite

from sinoloc.agent.schemas import TranscriptEntry
from sinoloc.agent.settings import LocateRequest

LOCATE: Literal["locate"] = "locate"
CHAT: Literal["chat"] = "chat"
# per-image channels with reducers: a new image on a thread starts them afresh
PER_IMAGE_LISTS = ("evidence", "ocr_spans", "ignored_text", "poi_queries", "tool_trace",
                   "warnings", "outbound")
PER_IMAGE_DICTS = ("timings", "usage")


def is_new_image(state: Mapping[str, Any]) -> bool:
    """True when the input brought a request ingest has not run on yet."""
    request = state.get("request")
    if isinstance(request, LocateRequest):
        return True
    return request is not None and request != state.get("ingested_request")


def fresh_image_channels() -> dict:
    """The update that clears the previous image's findings and conversation from the thread."""
    update: dict = {key: Overwrite([]) for key in PER_IMAGE_LISTS}
    update.update({key: Overwrite({}) for key in PER_IMAGE_DICTS})
    update["messages"] = [RemoveMessage(id=REMOVE_ALL_MESSAGES)]
    update.update(mode=LOCATE, question=None, reply=None, turn_base={}, budget_exhausted=None,
                  backend_fallback=None, prediction=None, locatability=None)
    return update


def calls_spent(counts: dict[str, int]) -> int:
    """Model calls that count against the budget: answered ones and failed ones."""
    return counts.get("model_calls", 0) + counts.get("model_errors", 0)


def turn_base(state: Mapping[str, Any]) -> dict[str, int]:
    """What the thread had spent when this turn began."""
    return {"tool_calls": len(state.get("tool_trace", [])),
            "model_calls": calls_spent(state.get("usage", {}))}


def tool_calls_this_turn(state: Mapping[str, Any]) -> int:
    return len(state.get("tool_trace", [])) - (state.get("turn_base") or {}).get("tool_calls", 0)


def model_budget(state: Mapping[str, Any], request) -> int:
    """This turn's model-call budget: a new image's depends on its locatability (when
    ``adaptive_budget``); a follow-up question gets the full budget."""
    from sinoloc.agent.reasoning.locatability import model_call_budget

    score = (state.get("locatability") or {}).get("score")
    if state.get("mode") == CHAT:
        score = None
    return model_call_budget(request.max_model_calls, score, request.adaptive_budget)


def model_calls_this_turn(state: Mapping[str, Any]) -> int:
    return calls_spent(state.get("usage", {})) - (state.get("turn_base") or {}).get(
        "model_calls", 0)


def time_budget(request: LocateRequest) -> str:
    return f"the time budget ({request.max_seconds:g} s)"


def budget_exhausted(state: Mapping[str, Any], request: LocateRequest, uses_model: bool) -> str | None:
    """Which budget of this turn is spent, if any: model calls (when the turn would ask a
    model), tool calls or wall time."""
    calls = model_budget(state, request)
    if uses_model and model_calls_this_turn(state) >= calls:
        return f"the model-call budget ({calls})"
    if tool_calls_this_turn(state) >= request.max_tool_calls:
        return f"the tool-call budget ({request.max_tool_calls})"
    started = state.get("started_at")
    if started is not None and time.time() - started >= request.max_seconds:
        return time_budget(request)
    return None


def out_of_time(failure: BaseException) -> bool:
    """A model call cut at the run's time budget (the run commits rather than falls back)."""
    from sinoloc.agent.llm.failures import BackendFailure, FailureKind

    return isinstance(failure, BackendFailure) and failure.kind is FailureKind.BUDGET


def unanswered_calls(messages: list) -> list[ToolMessage]:
    """Answers for tool calls a cancelled turn left open (providers reject such histories)."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    return [ToolMessage(content="cancelled by the user before it ran", tool_call_id=c["id"],
                        name=c["name"], status="error")
            for m in messages if isinstance(m, AIMessage)
            for c in m.tool_calls if c["id"] not in answered]


def entry(kind: Literal["image", "question", "answer", "reply"], text: str) -> dict:
    return TranscriptEntry(kind=kind, text=text, at=time.time()).model_dump(mode="json")

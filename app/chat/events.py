"""What a person watching a run sees: the graph's stream (node updates and the custom
tool-start events) turned into typed :class:`ChatEvent` items and one line each."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Generator
from typing import Any, Literal

from langchain_core.messages import AIMessage
from langgraph.types import Overwrite
from pydantic import BaseModel, Field

from sinoloc.agent.schemas import GeoPrediction, ToolTrace, Verdict
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL

EventKind = Literal["image", "tool_start", "tool_result", "model", "policy", "submit", "verdict",
                    "answer", "reply", "warning", "review"]
SHORT = 110  # characters of a tool result or a model's reasoning shown in the stream


class ChatEvent(BaseModel):
    kind: EventKind
    text: str
    data: dict[str, Any] = Field(default_factory=dict)


def _value(update: Any) -> Any:
    return update.value if isinstance(update, Overwrite) else update


def _short(text: str, limit: int = SHORT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(args: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items()
                     if v is not None)


def _image_events(node: str, update: dict) -> list[ChatEvent]:
    image = update.get("image")
    if node != "ingest" or not image:
        return []
    kind = "panorama" if image.get("is_panorama") else "photo"
    return [ChatEvent(kind="image", data=image, text=(
        f"{kind} {image['width']}×{image['height']}"
        + (" with camera GPS" if image.get("exif_gps") else "")))]


def _submission(args: dict) -> ChatEvent:
    from sinoloc.agent.output.render import place_label

    names = place_label(*(str(args[k]) if args.get(k) else None
                          for k in ("province", "city", "district")))
    confidence = f" confidence {args['confidence']}" if "confidence" in args else ""
    return ChatEvent(kind="submit", data=args, text=(
        f"{names} ({args.get('lat')}, {args.get('lon')}){confidence}"))


def _from_model(update: dict) -> bool:
    """Whether a policy update's messages came from a model: not from the deterministic policy,
    nor from its fusion standing in for a failed model or a spent budget."""
    return update.get("backend") not in (None, "deterministic") \
        and not update.get("backend_fallback") and not update.get("budget_exhausted") \
        and update.get("answered_by") != "fusion"


def _model_events(update: dict) -> list[ChatEvent]:
    """What the policy said beside its tool calls (``model`` from a model, ``policy`` from the
    offline policy), and the answers it submitted."""
    events: list[ChatEvent] = []
    kind: EventKind = "model" if _from_model(update) else "policy"
    for message in _value(update.get("messages")) or []:
        if not isinstance(message, AIMessage):
            continue
        if message.text.strip() and message.tool_calls:
            events.append(ChatEvent(kind=kind, text=_short(message.text, 300)))
        events += [_submission(call.get("args") or {}) for call in message.tool_calls
                   if call["name"] == SUBMIT_TOOL]
    return events


def _verdict_event(verdict: dict) -> ChatEvent:
    v = Verdict.model_validate(verdict)
    failed = [c.name for c in v.checks if not c.passed]
    return ChatEvent(kind="verdict", data=verdict, text=(
        "accepted" if v.accepted else f"sent back ({', '.join(failed) or 'invalid'}): "
        f"{_short(v.feedback, 200)}"))


def _answer_event(prediction: dict) -> ChatEvent:
    from sinoloc.agent.output.render import headline

    p = GeoPrediction.model_validate(prediction)
    return ChatEvent(kind="answer", text=headline(p), data={"basis": p.basis})


WEB_MODEL_ADVICE = ("Start the server with one (`sinoloc serve --llm SPEC`, e.g. "
                    "--llm google_genai:gemini-2.5-flash or local:/path/to/qwen-vl), then ask again.")


def cli_model_advice(resume_command: str) -> str:
    """The chat command's advice: the same thread again, with a model."""
    return (f"Start the chat again with one: `{resume_command} --llm SPEC` (SPEC: "
            "google_genai:gemini-2.5-flash, local:/path/to/qwen-vl, …; docs/models.md "
            "says how to set one up).")


def _reply_text(reply: str, model_advice: str | None) -> str:
    """The graph's reply, the no-model one in the words of the surface showing it."""
    from sinoloc.agent.policies.deterministic import NEEDS_A_MODEL, needs_a_model

    return needs_a_model(model_advice) if model_advice and reply == NEEDS_A_MODEL else reply


def _node_events(node: str, update: dict, model_advice: str | None = None) -> list[ChatEvent]:
    """The events of one node's update, in the order a person reads them."""
    events = [*_image_events(node, update), *_model_events(update)]
    if update.get("verdict"):
        events.append(_verdict_event(update["verdict"]))
    if update.get("prediction"):
        events.append(_answer_event(update["prediction"]))
    if update.get("reply"):
        events.append(ChatEvent(kind="reply", text=_reply_text(update["reply"], model_advice)))
    events += [ChatEvent(kind="warning", text=w) for w in _value(update.get("warnings")) or []]
    return events


def _review_events(interrupts: Any) -> list[ChatEvent]:
    """The graph stopped for human review (agent/review.py): the proposal and any feedback."""
    from sinoloc.agent.output.render import headline

    events = []
    for item in interrupts or ():
        value = getattr(item, "value", None)
        if isinstance(value, dict) and value.get("kind") == "review":
            proposal = GeoPrediction.model_validate(value["proposal"])
            note = f" ({value['feedback']})" if value.get("feedback") else ""
            events.append(ChatEvent(kind="review", data=value,
                                    text=f"for review: {headline(proposal)}{note}"))
    return events


def tool_result(trace: dict) -> ChatEvent:
    t = ToolTrace.model_validate(trace)
    ids = f" → {', '.join(t.evidence_ids)}" if t.evidence_ids else ""
    lines = [line.strip() for line in t.summary.splitlines() if line.strip()]
    return ChatEvent(kind="tool_result", data=trace,
                     text=f"{t.tool}: {t.status}{ids}  {_short(' · '.join(lines))}")


def stream_events(mode: str, chunk: Any, model_advice: str | None = None) -> list[ChatEvent]:
    """Events of one item of ``graph.stream(..., stream_mode=["custom", "updates"])``: tool
    calls come from the custom stream as they start and end, the rest from node updates.
    ``model_advice``: how to add a model, in the words of the surface (the graph's own reply
    speaks to Python)."""
    if mode == "custom":
        event = chunk.get("event") if isinstance(chunk, dict) else None
        label = trajectory_label(chunk) if isinstance(chunk, dict) else ""
        if event == "tool_start":
            return [ChatEvent(kind="tool_start", data=chunk,
                              text=f"{label}{chunk['tool']}({_args(chunk.get('args') or {})})")]
        if event == "tool_end":
            result = tool_result(chunk["trace"])
            return [result.model_copy(update={
                "text": label + result.text, "data": {**result.data, **_sample_of(chunk)}})]
        return []
    events: list[ChatEvent] = []
    for node, update in (chunk or {}).items():
        if node == "__interrupt__":
            events.extend(_review_events(update))
        elif isinstance(update, dict):
            events.extend(_node_events(node, update, model_advice))
    return events


def trajectory_label(chunk: dict) -> str:
    """``[trajectory 2] `` for an event of one of several trajectories (``samples`` > 1), else
    nothing: its evidence ids are its own until the selector pools them."""
    return f"[trajectory {chunk['sample']}] " if chunk.get("sample") is not None else ""


def _sample_of(chunk: dict) -> dict:
    return {"sample": chunk["sample"]} if chunk.get("sample") is not None else {}


STREAM_MODES = ["custom", "updates"]


def graph_stream(graph, graph_input: Any, config: dict, **kwargs
                 ) -> Generator[tuple[str, Any], None, None]:
    """``graph.stream`` in the two modes the surfaces show, ``(mode, chunk)``: the graph's own
    items, and the tool events of its trajectories as they run (a subgraph's custom stream:
    ``samples`` > 1 runs them side by side); a trajectory's node updates stay inside it, the
    selector reports what came of them."""
    stream = graph.stream(graph_input, config, stream_mode=STREAM_MODES, subgraphs=True, **kwargs)
    try:
        for namespace, mode, chunk in stream:
            if not namespace or mode == "custom":
                yield mode, chunk
    finally:
        stream.close()


async def agraph_stream(graph, graph_input: Any, config: dict, **kwargs
                        ) -> AsyncIterator[tuple[str, Any]]:
    """:func:`graph_stream` for asyncio code."""
    stream = graph.astream(graph_input, config, stream_mode=STREAM_MODES, subgraphs=True,
                           **kwargs)
    try:
        async for namespace, mode, chunk in stream:
            if not namespace or mode == "custom":
                yield mode, chunk
    finally:
        await stream.aclose()


_MARKS = {"image": "■", "tool_start": "→", "tool_result": "←", "model": "…", "policy": "…", "submit": "⇒",
          "verdict": "✓", "answer": "●", "reply": "", "warning": "!", "review": "?"}


def event_line(event: ChatEvent) -> str:
    """The line the terminal shows for ``event``."""
    if event.kind == "reply":
        return event.text
    mark = _MARKS[event.kind]
    if event.kind == "verdict" and not event.text.startswith("accepted"):
        mark = "✗"
    return f"  {mark} {event.text}"

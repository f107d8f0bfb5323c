"""An image's recorded steps as the graph's stream would have shown them: ``(mode, chunk)``
pairs in the shapes of ``graph.stream(..., stream_mode=["custom", "updates"])``, so that the chat's
own rendering (``stream_events`` and ``event_line``) prints a record exactly as it prints a live
run: tool calls as they start and end, the model's words and submissions, verdicts."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage

from sinoloc.agent.records.normalize import reply_from_json
from sinoloc.agent.records.reader import ImageRecord, Record
from sinoloc.agent.records.schema import Step
from sinoloc.agent.records.writer import RecordError
from sinoloc.agent.state import evidence_id

Chunk = tuple[str, Any]


def _tool_chunks(step: Step, record: Record, next_id: int) -> tuple[list[Chunk], int]:
    request: dict = record.blob(step.req) or {}
    response: dict = record.blob(step.res) or {}
    args = request.get("args") or {}
    call_id = f"step_{step.seq}"
    if "error" in response:
        error = response["error"]
        status, summary, ids = "error", f"the tool failed: {error['type']}: {error['message']}", []
    else:
        output = response.get("output") or {}
        found = len(output.get("evidence") or [])
        status, summary = output.get("status", "?"), output.get("summary", "")
        ids = [evidence_id(next_id + i) for i in range(found)]
        next_id += found
    trace = {"call_id": call_id, "tool": step.name, "args": args, "status": status,
             "summary": summary, "seconds": step.s or 0.0, "evidence_ids": ids}
    return [("custom", {"event": "tool_start", "tool": step.name, "args": args,
                        "call_id": call_id}),
            ("custom", {"event": "tool_end", "trace": trace})], next_id


def _model_chunks(step: Step, record: Record) -> list[Chunk]:
    response: dict = record.blob(step.res) or {}
    if "error" in response:
        error = response["error"]
        return [("updates", {"policy": {"warnings": [
            f"{step.name} failed ({error.get('kind') or error['type']}: {error['message']})"]}})]
    reply: AIMessage = reply_from_json(response["reply"])
    if not reply.tool_calls and reply.text.strip():  # words alone: a reply or a nudge's cause
        return [("updates", {"policy": {"reply": reply.text}})]
    return [("updates", {"policy": {"messages": [reply]}})]


def timeline(image: ImageRecord, record: Record) -> list[Chunk]:
    """The image's steps in order, as stream chunks."""
    chunks: list[Chunk] = []
    next_id = 1
    for step in image.steps:
        if step.kind == "tool":
            more, next_id = _tool_chunks(step, record, next_id)
            chunks += more
        elif step.kind == "model":
            chunks += _model_chunks(step, record)
        elif step.kind == "verify" and step.data and step.data.get("verdict"):
            chunks.append(("updates", {"verify": {"verdict": step.data["verdict"]}}))
        elif step.kind == "end" and step.data and step.data.get("status") not in (None, "ok"):
            chunks.append(("updates", {"end": {"warnings": [
                f"the image ended with status {step.data['status']}"]}}))
    return chunks


def find_image(record: Record, image: str) -> ImageRecord:
    """The image's last attempt, by id or by (a prefix of) its content hash."""
    found = record.images.get(image) or next(
        (i for i in record.images.values() if i.sha256 and len(image) >= 8
         and i.sha256.startswith(image)), None)
    if found is None:
        known = ", ".join(sorted(record.images)[:8])
        raise RecordError(f"no image {image!r} in the record (it holds {len(record.images)}: "
                       f"{known}{' …' if len(record.images) > 8 else ''})")
    return found


__all__ = ["Chunk", "find_image", "timeline"]

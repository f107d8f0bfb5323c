"""``sinoloc sft make-data``: a teacher model explains, step by step, where each labelled image
was taken; the student's own input (the graph's prelude message) and the teacher's reasoning
and answer are stored for fine-tuning.

The label never reaches the teacher: the student prompt is made by the graph from the pixels
alone (EXIF ignored, the file copied to a neutral name first), and every prompt is checked for
the image's id, file name, coordinates and adcodes before it is sent. Answers far from the truth
are kept or dropped by a threshold the caller sets. Runs resume, cache teacher answers, respect
a request rate, and report their cost.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from sinoloc.agent.llm.failures import FailureKind, classify_error
from sinoloc.agent.llm.messages import image_block
from sinoloc.agent.llm.usage import cost_usd, usage_of
from sinoloc.agent.sft.records import CotRecord, parse_teacher
from sinoloc.prompts import render_prompt
from sinoloc.tools.datasets import LabelledImage
from sinoloc.tools.jsonl_log import JsonlLog
from sinoloc.tools.online.store import OnlineStore, default_store_path
from sinoloc.tools.regions import haversine_km

STOPPING = {FailureKind.AUTH, FailureKind.QUOTA_EXHAUSTED}  # every later call would fail too


class LabelLeak(AssertionError):
    """A prompt about to be sent contains part of the image's label."""


class MakeDataSummary(BaseModel):
    written: int = 0
    kept: int = 0
    skipped_existing: int = 0
    failed: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    stopped: str | None = None


def label_strings(item: LabelledImage) -> list[str]:
    """What of the label could leak as text: the id, the file name, the true coordinates and
    adcodes. (Place names are not listed: OCR may read them off a sign in the image itself.)"""
    t = item.truth
    out = [item.id, Path(item.image).name, Path(item.image).stem,
           f"{t.lat:.3f}", f"{t.lon:.3f}"]
    out += [a for a in (t.province_adcode, t.city_adcode, t.district_adcode) if a]
    return [s for s in out if s and len(s) >= 4]


def check_label_free(text: str, item: LabelledImage) -> None:
    found = [s for s in label_strings(item) if s in text]
    if found:
        raise LabelLeak(f"{item.id}: the prompt contains {found}")


@lru_cache(maxsize=1)
def _prelude_graph():
    """The graph (built once per process) whose run up to the policy gives the student prompt."""
    from langgraph.checkpoint.memory import InMemorySaver

    from sinoloc.agent.graph import build_graph

    return build_graph(checkpointer=InMemorySaver())


def student_prompt(image: Path) -> tuple[str, str]:
    """The prelude message the graph shows a model for ``image`` (EXIF ignored), and the
    image's sha256. The file is copied to a neutral name first."""
    graph = _prelude_graph()
    thread = f"make-data-{uuid.uuid4().hex}"
    config = {"configurable": {"thread_id": thread}}
    with tempfile.TemporaryDirectory() as tmp:
        neutral = Path(tmp) / f"query{image.suffix.lower() or '.jpg'}"
        shutil.copyfile(image, neutral)
        graph.invoke({"request": {"image_path": str(neutral), "ignore_exif": True}}, config,
                     interrupt_before=["policy"])
        values = graph.get_state(config).values
    graph.checkpointer.delete_thread(thread)  # one image's state, not kept for the run
    return values["messages"][0].text, values["image"]["sha256"]


def teacher_messages(prompt: str, image: Path, sha256: str) -> list[HumanMessage]:
    return [HumanMessage(content=[
        {"type": "text", "text": render_prompt("cot_teacher", student_prompt=prompt)},
        image_block(str(image), sha256)])]


def make_data(items: Iterable[LabelledImage], out: Path, teacher, teacher_name: str, *,
              max_error_km: float | None = None, requests_per_minute: float = 30.0,
              store: OnlineStore | None = None,
              on_record: Callable[[CotRecord], None] | None = None) -> MakeDataSummary:
    """Append one :class:`CotRecord` per new item to ``out`` (JSONL); returns the tally."""
    log = JsonlLog(out, CotRecord)
    log.repair()
    done = {r.id for r in log.read()}
    store = store or OnlineStore(default_store_path())
    summary = MakeDataSummary()
    costs: list[float] = []
    for item in items:
        if item.id in done:
            summary.skipped_existing += 1
            continue
        image = Path(item.image)
        prompt, sha = student_prompt(image)
        messages = teacher_messages(prompt, image, sha)
        teacher_text = messages[0].text  # the one text block (the other is the image)
        check_label_free(teacher_text, item)
        key = hashlib.sha256(f"{teacher_name}\n{sha}\n{teacher_text}".encode()).hexdigest()
        record = CotRecord(id=item.id, image=item.image, image_sha256=sha,
                           student_prompt=prompt, teacher=teacher_name, lat=item.truth.lat,
                           lon=item.truth.lon)
        cached = store.get(f"teacher:{teacher_name}", key, ttl_s=0)
        if isinstance(cached, dict):  # what this loop stored: {"text": ...}
            summary.cached += 1
            text, tokens = cached["text"], (0, 0)
        else:
            store.wait_turn(f"teacher:{teacher_name}", 60.0 / requests_per_minute)
            try:
                reply = teacher.invoke(messages)
            except Exception as exc:  # providers raise many types; classify them all
                failure = classify_error(exc)
                record.reason = f"teacher failed: {failure}"
                log.append(record)
                summary.written += 1
                summary.failed += 1
                if failure.kind in STOPPING:
                    summary.stopped = str(failure)
                    break
                continue
            text = reply.text
            counts = usage_of(reply)
            tokens = (counts["input_tokens"], counts["output_tokens"])
            store.put(f"teacher:{teacher_name}", key, {"text": text})
        record.explanation, record.answer, problem = parse_teacher(text)
        record.input_tokens, record.output_tokens = tokens
        record.cost_usd = cost_usd(teacher_name, *tokens)[0] if any(tokens) else 0.0
        if record.cost_usd is not None:
            costs.append(record.cost_usd)
        if record.answer is None:
            record.reason = problem
        else:
            record.error_km = round(float(haversine_km(item.truth.lon, item.truth.lat,
                                                       record.answer.lon, record.answer.lat)), 3)
            record.kept = max_error_km is None or record.error_km <= max_error_km
            if not record.kept:
                record.reason = f"{record.error_km:.0f} km from the truth (over {max_error_km:g})"
        log.append(record)
        summary.written += 1
        summary.kept += record.kept
        summary.input_tokens += tokens[0]
        summary.output_tokens += tokens[1]
        if on_record is not None:
            on_record(record)
    summary.cost_usd = round(sum(costs), 6) if costs else None
    return summary

"""Run records (agent/records): the normal form and hash of a request, scrubbing, the writer
and the validating reader, a session's record and replay, and the words of a divergence."""

from __future__ import annotations

import hashlib
import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from sinoloc.agent.records import RecordError, ReplayChatModel, ReplayMiss, load_record, open_record
from sinoloc.agent.records.divergence import verdict_form, where_texts_differ, why_tool, why_verdict
from sinoloc.agent.records.normalize import Scrubber, content_hash, message_form
from sinoloc.agent.records.reader import load_record as read
from sinoloc.agent.records.recording import RunRecording
from sinoloc.agent.records.schema import VERSION, Manifest
from sinoloc.agent.records.session import model_exchange, verify_checkpoint

TOOLS = [{"type": "function", "function": {"name": "lookup_clues", "parameters": {}}}]


def test_a_message_form_drops_ids_and_keeps_images_by_hash():
    image = {"type": "image", "base64": "aGVsbG8=", "mime_type": "image/jpeg"}
    a = HumanMessage(content=[{"type": "text", "text": "where?"}, image], id="run-1")
    b = HumanMessage(content=[{"type": "text", "text": "where?"}, image], id="run-2")
    assert message_form(a) == message_form(b)
    assert message_form(a)["content"][1] == {"type": "image", "sha256": hashlib.sha256(
        b"aGVsbG8=").hexdigest()}
    assert "aGVsbG8=" not in json.dumps(message_form(a))
    call = AIMessage(content="", tool_calls=[{"name": "ocr", "args": {}, "id": "call_x"}])
    again = AIMessage(content="", tool_calls=[{"name": "ocr", "args": {}, "id": "call_y"}])
    assert content_hash(message_form(call)) == content_hash(message_form(again))
    assert message_form(ToolMessage(content="ok", tool_call_id="call_x", name="ocr")) == \
        message_form(ToolMessage(content="ok", tool_call_id="call_y", name="ocr"))


def test_the_scrubber_takes_out_keys_and_absolute_paths(tmp_path):
    scrub = Scrubber([(str(tmp_path), "<image_dir>")], secrets=["sk-live-0123456789abcdef"])
    value = {"a": [f"read {tmp_path}/query.jpg", "key sk-live-0123456789abcdef here"]}
    assert scrub(value) == {"a": ["read <image_dir>/query.jpg", "key [REDACTED] here"]}


def _record_one(folder, reply_text="E1 says Hangzhou"):
    open_record(folder, backend="scripted:m")
    recording = RunRecording(record_to=folder)
    messages = [SystemMessage(content="system"), HumanMessage(content="where?")]
    with recording.image("img", "ab" * 32) as session:
        for _ in range(2):  # the same request twice: a retried call
            model_exchange("scripted:m", TOOLS, messages,
                           lambda: AIMessage(content=reply_text, tool_calls=[
                               {"name": "lookup_clues", "args": {"text": "杭州"}, "id": "c1"}]))
        verify_checkpoint({"accepted": True, "checks": [], "feedback": ""})
        session.finish("ok")
    recording.close()
    return messages


def test_a_record_round_trips_and_replays_each_recorded_outcome_in_turn(tmp_path):
    messages = _record_one(tmp_path / "rec")
    record = read(tmp_path / "rec")
    image = record.images["img"]
    assert [s.kind for s in image.steps] == ["start", "model", "model", "verify", "end"]
    assert image.steps[1].req == image.steps[2].req  # one request blob, written once
    blobs = (tmp_path / "rec" / "blobs.jsonl").read_text().splitlines()
    assert len(blobs) == 5  # system, human, tools offered, request, the reply (once)
    replay = RunRecording(replay_from=tmp_path / "rec")
    with replay.image("img", "ab" * 32) as session:
        for _ in range(2):
            reply = model_exchange("scripted:m", TOOLS, messages, lambda: pytest.fail("live"))
            assert reply.tool_calls[0]["args"] == {"text": "杭州"}
        with pytest.raises(ReplayMiss, match=r"img step 3 \[model scripted:m\]: the "):
            model_exchange("scripted:m", TOOLS, messages, lambda: pytest.fail("live"))
    assert session.hits == 2 and session.misses == 1


def test_a_miss_names_the_differing_message(tmp_path):
    _record_one(tmp_path / "rec")
    replay = RunRecording(replay_from=tmp_path / "rec")
    with replay.image("img", "ab" * 32), pytest.raises(ReplayMiss) as caught:
        model_exchange("scripted:m", TOOLS, [SystemMessage(content="system"),
                                             HumanMessage(content="where is it?")],
                       lambda: pytest.fail("live"))
    d = caught.value.divergence
    assert (d.kind, d.step, d.nearest) == ("model", 1, 1)
    assert d.why == "message 1 differs: recorded human «where?», asked human «where is it?»"


def test_live_on_miss_calls_the_model_for_the_rest(tmp_path):
    messages = _record_one(tmp_path / "rec")
    replay = RunRecording(replay_from=tmp_path / "rec", on_miss="live")
    with replay.image("img", "ab" * 32) as session:
        model_exchange("scripted:m", TOOLS, [*messages, HumanMessage("more")],
                       lambda: AIMessage(content="live"))
        reply = model_exchange("scripted:m", TOOLS, messages, lambda: AIMessage(content="live 2"))
    assert reply.text == "live 2"  # after a miss nothing more is served
    assert (session.misses, session.live_calls) == (1, 2)


def test_open_record_cuts_a_torn_tail_and_refuses_another_version(tmp_path):
    _record_one(tmp_path / "rec")
    steps = tmp_path / "rec" / "steps.jsonl"
    whole = steps.read_bytes()
    steps.write_bytes(whole + b'{"v":1,"ima')
    with pytest.raises(RecordError, match=r"steps.jsonl:6: torn line"):
        load_record(tmp_path / "rec")
    open_record(tmp_path / "rec")  # a resumed run
    assert steps.read_bytes() == whole
    manifest = tmp_path / "rec" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "version": VERSION + 1}))
    with pytest.raises(RecordError, match=r"manifest.json:1: format version"):
        open_record(tmp_path / "rec")
    with pytest.raises(RecordError, match="newer than this sinoloc reads"):
        load_record(tmp_path / "rec")


def test_the_validator_names_a_missing_blob_and_an_absolute_path(tmp_path):
    _record_one(tmp_path / "rec")
    blobs = tmp_path / "rec" / "blobs.jsonl"
    lines = blobs.read_text(encoding="utf-8").splitlines(keepends=True)
    blobs.write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(RecordError, match=r"steps.jsonl:\d+: names blob \w+, which blobs.jsonl"):
        load_record(tmp_path / "rec")
    value = {"path": "/home/someone/photos/a.jpg"}
    blobs.write_text("".join(lines) + json.dumps({"h": content_hash(value), "d": value},
                                                 separators=(",", ":")) + "\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"blobs.jsonl:6: an absolute path inside"):
        load_record(tmp_path / "rec")


def test_the_manifest_schema_is_strict():
    with pytest.raises(ValueError):
        Manifest.model_validate({"format": "other", "version": 1, "created": "x"})


def test_the_words_of_a_divergence():
    then, now = where_texts_differ("a" * 100 + "B tail", "a" * 100 + "C tail")
    assert then.startswith("…") and then.endswith("B tail") and now.endswith("C tail")
    recorded = {"tool": "ocr", "args": {"heading": 90}, "image": "x", "context": "c"}
    assert why_tool({**recorded, "args": {"heading": 180}}, recorded) == \
        'arguments differ: recorded {"heading": 90}, asked {"heading": 180}'
    assert why_tool({**recorded, "context": "d"}, recorded).startswith("what earlier calls found")
    accepted = verdict_form({"accepted": True, "checks": [], "feedback": ""})
    rejected = verdict_form({"accepted": False, "feedback": "no",
                             "checks": [{"name": "point_in_region", "passed": False}]})
    assert why_verdict(accepted, rejected) == ("verification changed its verdict: recorded sent "
                                               "back (point_in_region), now accepted")


def test_the_replay_model_reaches_nothing():
    model = ReplayChatModel(label="openai:x")
    assert model.bind_tools(TOOLS) is model
    with pytest.raises(RuntimeError, match="a replayed run has no live model"):
        model.invoke("hello")

"""The chat's pure parts: commands read from a line, image paths recognised, stream events as lines,
the thread store's listing."""

import pytest

from sinoloc.app.chat.events import ChatEvent, event_line, stream_events
from sinoloc.app.chat.repl import command_of, looks_like_image_path
from sinoloc.app.chat.threads import ThreadStore


# ------------------------------------------------------------------ units
@pytest.mark.parametrize(("line", "expected"), [
    ("/candidates", ("/candidates", "")),
    ("/image  a b.jpg ", ("/image", "a b.jpg")),
    ("/QUIT", ("/quit", "")),
    ("show candidates?", ("/candidates", "")),
    ("Open the map", ("/map", "")),
    ("打开地图", ("/map", "")),
    ("证据", ("/evidence", "")),
    ("why not 江苏?", None),
    ("show me the candidates in 江苏", None),
])
def test_command_of(line, expected):
    assert command_of(line) == expected


def test_looks_like_image_path(tmp_path):
    image = tmp_path / "a.jpg"
    image.write_bytes(b"x")
    assert looks_like_image_path(str(image)) and looks_like_image_path(f"'{image}'")
    assert not looks_like_image_path(str(tmp_path / "missing.jpg"))
    assert not looks_like_image_path("why not 江苏?")


def test_stream_events_and_lines():
    start = stream_events("custom", {"event": "tool_start", "tool": "ocr",
                                     "args": {"heading": 90, "box": None}, "call_id": "c1"})
    assert [event_line(e) for e in start] == ["  → ocr(heading=90)"]
    end = stream_events("custom", {"event": "tool_end", "trace": {
        "call_id": "c1", "tool": "ocr", "args": {}, "status": "ok", "seconds": 0.1,
        "summary": "2 text line(s):\nT1 a\nT2 b", "evidence_ids": ["E4"]}})
    assert event_line(end[0]) == "  ← ocr: ok → E4  2 text line(s): · T1 a · T2 b"
    assert stream_events("custom", "free text") == []
    verdict = {"accepted": False, "round": 1, "feedback": "the point is outside 西湖区",
               "checks": [{"name": "point_in_region", "passed": False}]}
    lines = [event_line(e) for e in stream_events("updates", {"verify": {"verdict": verdict}})]
    assert lines == ["  ✗ sent back (point_in_region): the point is outside 西湖区"]
    reply_event = stream_events("updates", {"policy": {"reply": "Because E1.", "warnings": []}})
    assert reply_event == [ChatEvent(kind="reply", text="Because E1.")]


def test_thread_store_lists_most_recent_first(tmp_path):
    with ThreadStore(tmp_path / "s.sqlite") as store:
        store.record("a", image="/x/1.jpg")
        store.record("b", image="/x/2.jpg")
        store.record("a", question=True, answer="浙江省")
        store.record("a", image="/x/3.jpg")
        threads = store.threads()
    assert [t.thread_id for t in threads] == ["a", "b"]
    a = threads[0]
    # the answer 浙江省 was about 1.jpg: once 3.jpg is sent it is no longer "the last answer"
    assert (a.images, a.questions, a.first_image, a.last_image, a.last_answer) == (
        2, 1, "/x/1.jpg", "/x/3.jpg", None)
    store_b = threads[1]
    assert (store_b.last_image, store_b.last_answer) == ("/x/2.jpg", None)
    with ThreadStore(tmp_path / "s.sqlite") as again:  # persisted
        assert again.exists("b") and not again.exists("c")

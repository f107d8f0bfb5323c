"""Thread records (agent/records/threads.py): how a thread's runs are named, written with what a
replay asks again, listed back in order, and served back one after another."""

from __future__ import annotations

import pytest

from sinoloc.agent.records import RecordError, load_record
from sinoloc.agent.records.threads import (
    ThreadRecorder,
    ThreadReplay,
    current_sha256,
    recorded_runs,
    run_kind,
    run_name,
)

A, B = "a" * 64, "b" * 64


@pytest.mark.parametrize("kind, before, name", [
    ("locate", 0, "aaaaaaaaaaaa"), ("locate", 5, "aaaaaaaaaaaa"), ("ask", 1, "aaaaaaaaaaaa.ask1"),
    ("review", 12, "aaaaaaaaaaaa.review12")])
def test_a_run_is_named_by_its_image_and_its_place_on_the_thread(kind, before, name):
    assert run_name(A, kind, before) == name
    assert run_kind(name) == kind


@pytest.mark.parametrize("name", ["aaaaaaaaaaaa.ask", "aaaaaaaaaaaa.chat3", "aaaaaaaaaaaa.3",
                                  "dev_0001.jpg"])
def test_a_name_no_thread_run_has_is_refused(name):
    with pytest.raises(ValueError, match="not a thread run's name"):
        run_kind(name)


def _thread(root, runs) -> ThreadRecorder:
    recorder = ThreadRecorder(root, backend="deterministic", settings={"offline": True})
    for kind, sha, data in runs:
        with recorder.run("t1", kind, sha256=sha, data=data):
            pass
    return recorder


def test_a_threads_runs_come_back_in_order_with_what_they_asked(tmp_path):
    _thread(tmp_path, [("locate", A, None), ("ask", None, {"question": "why?"}),
                       ("locate", B, {"review": True}), ("review", None,
                                                         {"decision": {"action": "approve"}}),
                       ("locate", A, None), ("ask", None, {"question": "and now?"})])
    record = load_record(tmp_path / "t1")
    runs = recorded_runs(record)
    assert [(r.name, r.kind, r.run.attempt) for r in runs] == [
        ("aaaaaaaaaaaa", "locate", 1), ("aaaaaaaaaaaa.ask1", "ask", 1),
        ("bbbbbbbbbbbb", "locate", 1), ("bbbbbbbbbbbb.review3", "review", 1),
        ("aaaaaaaaaaaa", "locate", 2), ("aaaaaaaaaaaa.ask5", "ask", 1)]  # the same image again
    assert [r.data for r in runs][1:4] == [{"question": "why?"}, {"review": True},
                                           {"decision": {"action": "approve"}}]
    assert current_sha256(tmp_path / "t1") == A  # a follow-up is about the last image located
    assert record.manifest.settings == {"offline": True}


def test_a_follow_up_recorded_without_its_question_cannot_be_asked_again(tmp_path):
    _thread(tmp_path, [("locate", A, None), ("ask", None, None)])
    with pytest.raises(RecordError, match=r"steps\.jsonl: run aaaaaaaaaaaa\.ask1 does not hold "
                                          r"its question"):
        ThreadReplay(tmp_path / "t1")


def test_a_follow_up_on_a_thread_with_no_image_run_is_refused(tmp_path):
    with pytest.raises(RecordError, match="holds no run of its image"):
        _thread(tmp_path, [("ask", None, {"question": "why?"})])


def test_a_replay_serves_the_recorded_runs_one_after_another(tmp_path):
    _thread(tmp_path, [("locate", A, None), ("ask", None, {"question": "why?"})])
    replay = ThreadReplay(tmp_path / "t1")
    with pytest.raises(RecordError, match="the next recorded run is aaaaaaaaaaaa, not this ask "
                                          "run"), replay.run("t1", "ask"):
        pass
    with replay.run("t1", "locate", sha256=A) as session:
        assert session.image == "aaaaaaaaaaaa" and session.source is replay.runs[0].run
    with replay.run("t1", "ask"):
        pass
    assert [s["run"] for s in replay.summaries] == ["aaaaaaaaaaaa", "aaaaaaaaaaaa.ask1"]
    with pytest.raises(RecordError, match="holds 2 run"), replay.run("t1", "ask"):
        pass

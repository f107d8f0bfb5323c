"""A chat session's runs recorded into its thread's record (agent/records/threads.py): a run
cut short by Ctrl-C ends its record session as ``cancelled`` at once, and a later run of the
session records as its own run, not into the cut one; the replay cuts that run where its record
ends and goes on with the next."""

from __future__ import annotations

from sinoloc.agent.records import load_record
from sinoloc.agent.records.threads import ThreadRecorder, ThreadReplay
from sinoloc.app.chat.repl import CANCELLED, ChatRepl
from sinoloc.app.chat.replay import replay_conversation
from sinoloc.app.chat.session import ChatSession
from sinoloc.app.chat.threads import ThreadStore
from sinoloc.app.cli.common import demo_image


def test_a_run_cut_by_ctrl_c_is_recorded_as_cancelled_and_the_next_run_is_its_own(tmp_path):
    lines: list[str] = []
    interrupted = []

    def write(text: str) -> None:
        if not interrupted:  # Ctrl-C while the first step is shown
            interrupted.append(text)
            raise KeyboardInterrupt
        lines.append(text)

    with ThreadStore(tmp_path / "threads.sqlite") as store:
        session = ChatSession(store, None, "t1", {"offline": True},
                              runs=ThreadRecorder(tmp_path / "records"))
        repl = ChatRepl(session, write=write)
        repl.locate(str(demo_image()))
        first = load_record(tmp_path / "records" / "t1").runs
        assert [r.steps[-1].data["status"] for r in first] == ["cancelled"]  # ended at once
        repl.locate(str(demo_image()))
    assert any("浙江省杭州市西湖区" in line for line in lines)
    runs = load_record(tmp_path / "records" / "t1").runs
    assert [(r.image, r.attempt, r.steps[-1].data["status"]) for r in runs] == [
        (runs[0].image, 1, "cancelled"), (runs[0].image, 2, "ok")]
    assert runs[1].exchanges and runs[1].steps[0].seq == 0

    replay = ThreadReplay(tmp_path / "records" / "t1")
    shown: list[str] = []
    with ThreadStore(tmp_path / "replay.sqlite") as store:
        session = ChatSession(store, None, "t1", {"offline": True}, runs=replay)
        replay_conversation(ChatRepl(session, write=shown.append), replay,
                            {runs[0].sha256: demo_image()})
    assert shown.count(CANCELLED) == 1 and shown.index(CANCELLED) < next(
        i for i, line in enumerate(shown) if "● 浙江省杭州市西湖区" in line)
    assert [(s["cut"], s["misses"]) for s in replay.summaries] == [(True, 1), (False, 0)]

"""``sinoloc chat --replay DIR/THREAD IMAGE…``: a recorded conversation asked again, with every
model and tool call answered from the thread's record (agent/records/threads.py): no model, no
network, no cost.

The record holds the runs in the order they ran: each image's locate run (the image found among
the files given by its content hash, whatever it is called now), each follow-up question (its
text is in the record) and each review decision. They are sent to a chat session on a throwaway
thread, in order, and the terminal shows what a live session showed: the prompt line with what
was asked, then the run's steps and its answer. What the graph asks that the record lacks (the
code changed) is a :class:`~sinoloc.agent.records.ReplayMiss`: the replay stops there, naming
the first divergence, or with ``--replay-miss live`` the live model answers the rest of that run.
A run that was cut short (Ctrl-C) is replayed up to where its record ends, and the conversation
goes on.
Records of ``sinoloc chat --record-dir`` and of the web app's threads (``sinoloc serve
--record-dir``) replay the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sinoloc.agent.records.recording import file_sha256
from sinoloc.agent.records.threads import RecordedRun, ThreadReplay
from sinoloc.app.chat.repl import CANCELLED, PROMPT, ChatRepl


def images_by_hash(replay: ThreadReplay, images: Iterable[str | Path]) -> dict[str, Path]:
    """The given files by content hash; ValueError (one line) when a recorded image is not among
    them."""
    given = {}
    for image in images:
        path = Path(image).expanduser()
        try:
            given[file_sha256(path)] = path
        except OSError as exc:
            raise ValueError(f"{image}: cannot read it ({exc.strerror or exc})") from None
    wanted = [r for r in replay.runs if r.kind == "locate"]
    missing = sorted({r.name for r in wanted if r.sha256 not in given})
    if not wanted:
        raise ValueError(f"{replay.record.folder}: the record holds no locate run to start "
                         "from (its thread was recorded from a follow-up on)")
    if missing:
        raise ValueError(f"the record's image(s) {', '.join(missing)} (the first 12 hex digits "
                         "of the content hash) are not among the images given: pass the photo "
                         "files the thread located")
    if replay.runs[0].kind != "locate":
        raise ValueError(f"{replay.record.folder}: the record begins with {replay.runs[0].name}, "
                         "a follow-up whose image's run is not recorded")
    return given


def asked_line(run: RecordedRun, image: Path | None = None) -> str:
    """What the person typed for ``run``: the image path, the question, or the decision."""
    if run.kind == "locate":
        return str(image)
    if run.kind == "ask":
        return str(run.data["question"])
    decision = run.data["decision"]
    arg = decision.get("place") or decision.get("reason") or decision.get("clue") or ""
    return f"/{decision['action']} {arg}".rstrip()


def replay_conversation(repl: ChatRepl, replay: ThreadReplay, images: dict[str, Path]) -> int:
    """Asks every recorded run again on ``repl``'s session, in order: how many ran. A request
    the record lacks raises :class:`~sinoloc.agent.records.ReplayMiss` out of here."""
    session = repl.session
    for run in list(replay.runs):
        image = images.get(run.sha256 or "") if run.kind == "locate" else None
        repl.write(f"{PROMPT}{asked_line(run, image)}")
        if run.kind == "locate":
            session.review = bool(run.data.get("review"))
            repl.locate(str(image))
        elif run.kind == "ask":
            repl.ask(str(run.data["question"]))
        else:
            repl.stream(session.decide(run.data["decision"]))
        if run.cancelled:  # recorded cut short by Ctrl-C: replayed up to where it was cut
            repl.write(CANCELLED)
    return replay.next


def replay_summary(replay: ThreadReplay) -> str:
    """The closing line: the runs replayed, the cut ones among them, misses and live calls (a
    cut run's miss is where it was cut, not counted)."""
    summaries = replay.summaries
    cut = sum(s["cut"] for s in summaries)
    misses = sum(s.get("misses", 0) for s in summaries if not s["cut"])
    live_calls = sum(s.get("live_calls", 0) for s in summaries)
    return (f"replayed {len(summaries)} run(s){f' ({cut} cut short, as recorded)' if cut else ''}"
            f": {misses} miss(es), {live_calls} live call(s)")


__all__ = ["asked_line", "images_by_hash", "replay_conversation", "replay_summary"]

"""Thread records: every run on a conversation thread (``sinoloc chat --record-dir DIR``, and the
web app's threads that opt in under ``sinoloc serve --record-dir DIR``) as one record folder,
``DIR/THREAD_ID``, and the replay of such a record run after run (``sinoloc chat --replay``).

Each run is one image session of the record (see :mod:`.recording`), named so that a person and
a replay can tell them apart:

- an image's locate run: the first 12 hex digits of the image's content hash (``3f2a…``);
- a follow-up question: that name and ``.ask<n>``; a review decision: ``.review<n>``, where
  ``n`` counts the runs the record held before it (the thread's current image is the one its
  last locate run was about).

The start step of a run keeps what a replay needs to ask again (``data``): a follow-up's
``question``, a review's ``decision``, and ``review: true`` for a locate run that stopped for
review. The same image located twice on one thread is a second attempt of the same name.

:class:`ThreadRecorder` writes runs; :class:`ThreadReplay` serves them back in recorded order
(its caller asks the recorded questions again, see app/chat/replay.py). Both have the same
``run(thread_id, kind, …)`` so that a chat session takes either. Which threads record, and
where, is the caller's (the web app keeps its trust boundary in app/web/thread_records.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from sinoloc.agent.records.reader import ImageRecord, Record
from sinoloc.agent.records.recording import RunRecording, replay_source
from sinoloc.agent.records.schema import MANIFEST, STEPS
from sinoloc.agent.records.session import ImageSession, OnMiss, ReplayMiss
from sinoloc.agent.records.writer import RecordError

RunKind = Literal["locate", "ask", "review"]
KINDS: tuple[RunKind, ...] = ("locate", "ask", "review")


def run_name(sha256: str, kind: RunKind, runs_before: int) -> str:
    """``<sha12>`` for a locate run, ``<sha12>.ask<n>`` / ``<sha12>.review<n>`` after it."""
    return sha256[:12] if kind == "locate" else f"{sha256[:12]}.{kind}{runs_before}"


def run_kind(name: str) -> RunKind:
    """The kind of run a recorded name stands for (an unknown name: ValueError)."""
    _, dot, rest = name.partition(".")
    kind = rest.rstrip("0123456789") if dot else "locate"
    if kind not in KINDS or (dot and rest == kind):
        raise ValueError(f"{name!r} is not a thread run's name (<sha12>, <sha12>.ask<n> or "
                         "<sha12>.review<n>)")
    return kind


def _starts(folder: Path) -> Iterator[dict]:
    path = folder / STEPS
    if not path.exists():
        return
    with path.open("rb") as handle:
        for line in handle:
            if b'"kind":"start"' in line:
                yield json.loads(line)


def current_sha256(folder: Path) -> str:
    """The content hash of the thread's current image (its last locate run's)."""
    found = [s["sha256"] for s in _starts(folder) if s.get("sha256") and "." not in s["image"]]
    if not found:
        raise RecordError(f"{folder / STEPS}: this thread's record holds no run of its image")
    return found[-1]


def finish_on_exit(session: ImageSession,
                   cut_at_miss: bool = False) -> contextlib.AbstractContextManager:
    """Ends ``session`` as its run ends: ``ok``, ``cancelled`` (the client or Ctrl-C went away),
    ``replay_miss``, or the failure's class name. ``cut_at_miss``: the replay of a run that was
    recorded cut short (Ctrl-C) ends, cancelled, where the record ends, and the conversation
    goes on."""
    @contextlib.contextmanager
    def finishing():
        try:
            yield session
        except ReplayMiss:
            session.finish("cancelled" if cut_at_miss else "replay_miss")
            if not cut_at_miss:
                raise
            return
        except BaseException as exc:
            session.finish("cancelled" if isinstance(exc, (GeneratorExit, KeyboardInterrupt))
                           else exc.__class__.__name__)
            raise
        session.finish("ok")
    return finishing()


class ThreadRuns(Protocol):
    """What a chat session records its runs with (a recorder, or a replay)."""

    def run(self, thread_id: str, kind: RunKind, *, sha256: str | None = None,
            image_dir: Path | None = None, data: dict | None = None,
            settings: dict | None = None) -> contextlib.AbstractContextManager: ...


class ThreadRecorder:
    """Records each thread's runs into ``root/THREAD_ID`` (the folder made by its first run)."""

    def __init__(self, root: Path, backend: str | None = None, settings: dict | None = None):
        self.root = Path(root)
        self.backend = backend
        self.settings = dict(settings or {})

    def folder_of(self, thread_id: str) -> Path:
        if not thread_id or thread_id.startswith(".") or Path(thread_id).name != thread_id:
            raise ValueError(f"{thread_id!r}: not a thread id")
        return self.root / thread_id

    def recording(self, thread_id: str) -> bool:
        """Whether the thread's record exists (its first run made it)."""
        return (self.folder_of(thread_id) / MANIFEST).exists()

    @contextlib.contextmanager
    def run(self, thread_id: str, kind: RunKind, *, sha256: str | None = None,
            image_dir: Path | None = None, data: dict | None = None,
            settings: dict | None = None) -> Iterator[ImageSession]:
        """One run on the thread as one session of its record. ``sha256``: the image's content
        hash (a follow-up's default: the thread's current image); ``settings``: the run's,
        kept in the manifest of a new record (no paths)."""
        folder = self.folder_of(thread_id)
        sha = sha256 or current_sha256(folder)
        recording = RunRecording(record_to=folder, prepare=True, backend=self.backend,
                                 settings=settings if settings is not None else self.settings)
        starts = list(_starts(folder))
        name = run_name(sha, kind, len(starts))
        attempt = 1 + sum(s["image"] == name for s in starts)
        try:
            with recording.image(name, sha, attempt, image_dir=image_dir, data=data) as session, \
                    finish_on_exit(session):
                yield session
        finally:
            recording.close()


@dataclass
class RecordedRun:
    """One run of a thread's record, as a replay asks it again."""

    name: str
    kind: RunKind
    run: ImageRecord

    @property
    def sha256(self) -> str | None:
        return self.run.sha256

    @property
    def data(self) -> dict:
        return (self.run.steps[0].data or {}) if self.run.steps else {}

    @property
    def cancelled(self) -> bool:
        """Whether the run was cut short (Ctrl-C, a client gone) where its record ends."""
        return any(s.kind == "end" and (s.data or {}).get("status") == "cancelled"
                   for s in self.run.steps)


def recorded_runs(record: Record) -> list[RecordedRun]:
    """The thread's runs in the order they ran, each checked to carry what its replay asks
    (a follow-up its question, a review its decision): RecordError naming the run otherwise."""
    runs = []
    for run in record.runs:
        try:
            kind = run_kind(run.image)
        except ValueError as exc:
            raise RecordError(f"{record.folder / STEPS}: {exc}: not a thread's record") from None
        recorded = RecordedRun(run.image, kind, run)
        needs = {"ask": "question", "review": "decision"}.get(kind)
        if needs and needs not in recorded.data:
            raise RecordError(f"{record.folder / STEPS}: run {run.image} does not hold its "
                              f"{needs} (recorded before sinoloc kept it): it cannot be asked "
                              "again")
        runs.append(recorded)
    return runs


class ThreadReplay:
    """Serves a thread record's runs back in the order they were recorded: each ``run`` is the
    next recorded run, whose model and tool exchanges the graph is answered from."""

    def __init__(self, folder: Path, on_miss: OnMiss = "stop"):
        self.record = replay_source(str(folder))
        self.runs = recorded_runs(self.record)
        self.recording = RunRecording(replay_from=self.record.folder, on_miss=on_miss)
        self.next = 0
        self.summaries: list[dict] = []

    @contextlib.contextmanager
    def run(self, thread_id: str, kind: RunKind, *, sha256: str | None = None,
            image_dir: Path | None = None, data: dict | None = None,
            settings: dict | None = None) -> Iterator[ImageSession]:
        if self.next >= len(self.runs):
            raise RecordError(f"{self.record.folder / STEPS}: the record holds "
                              f"{len(self.runs)} run(s); a {kind} run was asked after them")
        recorded = self.runs[self.next]
        if recorded.kind != kind or (sha256 and recorded.sha256 != sha256):
            raise RecordError(f"{self.record.folder / STEPS}: the next recorded run is "
                              f"{recorded.name}, not this {kind} run (image "
                              f"{(sha256 or '?')[:12]})")
        self.next += 1
        with self.recording.image(recorded.name, recorded.sha256, recorded.run.attempt,
                                  image_dir=image_dir, source=recorded.run) as session:
            if recorded.cancelled:
                session.on_miss = "stop"  # where the record ends, the run was cut: no further
            with finish_on_exit(session, cut_at_miss=recorded.cancelled):
                yield session
        self.summaries.append({"run": recorded.name, "cut": recorded.cancelled,
                               **session.summary()})  # type: ignore[dict-item]


__all__ = ["KINDS", "RecordedRun", "RunKind", "ThreadRecorder", "ThreadReplay", "ThreadRuns",
           "current_sha256", "finish_on_exit", "recorded_runs", "run_kind", "run_name"]

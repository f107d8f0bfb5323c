"""A run's recording and replay settings, and the per-image session that applies them.

    recording = RunRecording(record_to=Path("runs/a/record"))           # record
    recording = RunRecording(replay_from=Path("runs/a"), on_miss="stop")  # replay (and record)
    with recording.image("dev_0001", sha256) as session:
        prediction = locator.locate(path)
    session.outcome  # hits, misses, the first divergence

One :class:`RunRecording` per process: its writer appends to the record folder that
:func:`~.writer.open_record` prepared, and its replay source is read and validated once.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from sinoloc.agent.records.normalize import Scrubber
from sinoloc.agent.records.reader import ImageRecord, Record, load_record
from sinoloc.agent.records.session import _ACTIVE, ImageSession, OnMiss, ReplayMiss
from sinoloc.agent.records.writer import RecordWriter, open_record


@lru_cache(maxsize=4)
def replay_source(folder: str) -> Record:
    """A record read and validated once per process."""
    return load_record(Path(folder))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class RunRecording:
    """Where a run records to and replays from (either, both or neither)."""

    def __init__(self, record_to: Path | None = None, replay_from: Path | None = None,
                 on_miss: OnMiss = "stop", *, prepare: bool = False, backend: str | None = None,
                 settings: dict | None = None):
        if prepare and record_to is not None:
            open_record(record_to, backend=backend, settings=settings)
        self.writer = RecordWriter(record_to) if record_to is not None else None
        self.source = replay_source(str(replay_from)) if replay_from is not None else None
        self.on_miss = on_miss
        self.scrub = Scrubber()
        self.spent_s = 0.0  # what recording and replay themselves took, over every image

    @property
    def active(self) -> bool:
        return self.writer is not None or self.source is not None

    @contextlib.contextmanager
    def image(self, image: str, sha256: str | None = None, attempt: int = 1,
              image_dir: Path | None = None, *, source: ImageRecord | None = None,
              data: dict | None = None) -> Iterator[ImageSession]:
        """The session of one image; its ``finish`` is the caller's (it knows the status).
        ``source``: the recorded run to serve (by default the record's run of ``image``, or of
        its content hash); ``data``: kept in the start step (see :class:`ImageSession`)."""
        start = time.perf_counter()
        if self.source is not None and source is None:
            source = self.source.images.get(image) or (
                self.source.by_sha256(sha256) if sha256 else None)
        scrub = Scrubber([(str(image_dir), "<image_dir>")],
                                                 self.scrub.secrets) if image_dir else self.scrub
        session = ImageSession(image, sha256, writer=self.writer, scrub=scrub, source=source,
                               record=self.source, replaying=self.source is not None,
                               on_miss=self.on_miss, attempt=attempt, data=data)
        token = _ACTIVE.set(session)
        self.spent_s += time.perf_counter() - start
        try:
            yield session
        finally:
            _ACTIVE.reset(token)
            self.spent_s += session.spent_s

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


__all__ = ["ReplayMiss", "RunRecording", "file_sha256", "replay_source"]

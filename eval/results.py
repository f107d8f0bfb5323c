"""The rows of an eval run and the append-only JSONL log they live in.

Each finished image is one line, written with a single ``write`` on an ``O_APPEND`` descriptor
and ``fsync``-ed before the next image starts, so a run killed at any moment leaves every
finished row intact and at most one partial last line.

Damage anywhere else (a torn line in the middle, left by a writer that did not hold the run
directory's lock, a disk fault or a hand edit) is never fatal: readers skip the line with a warning
that names ``file:line``, and :meth:`ResultsLog.repair` (run by ``--resume`` under the lock) sets
it aside. Repair *rewrites* the log rather than appending tombstones, in this order: (1) the lines
set aside are appended and fsynced to ``<stem>.rejected.jsonl`` with their line numbers; (2) the
kept lines, byte for byte, go to a uniquely named temporary file in the same directory, fsynced;
(3) ``os.replace`` puts it in place and the directory is fsynced. A kill -9 before (3) leaves the
old log whole (the next repair sets the same lines aside again: the side file may repeat itself,
the log never loses a row); after (3) the log is the clean one. At no instant does the log's path
name a partial file, and afterwards readers need no tombstone rule, so a tool that reads the log
naively still sees each id once. Appending tombstones instead would leave the damaged bytes in
place for every reader, forever, and still need a truncation for a torn last line.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from sinoloc.eval.datasets import Truth

Status = Literal["ok", "bad_image", "error", "timeout"]
# image: the image itself (unreadable, not an image), kept; locator: the locator failed or ran out
# of its own time on it, kept; infrastructure: the machine lost the row (a worker killed by the OS,
# a hard timeout beyond the graph's own budget, a full disk), retried by --resume.
ErrorKind = Literal["image", "locator", "infrastructure"]
MAX_ATTEMPTS = 3  # an image that keeps killing its worker is kept as failed after this many tries

log = logging.getLogger(__name__)


class ResultRow(BaseModel):
    """One image's outcome: the prediction (a GeoPrediction as JSON) or why there is none."""

    id: str
    status: Status
    error: str | None = None
    seconds: float
    truth: Truth
    attributes: dict[str, str] = Field(default_factory=dict)
    prediction: dict | None = None
    error_kind: ErrorKind | None = None
    attempt: int = Field(default=1, ge=1, description="1 + earlier rows of this id set aside")
    session: int | None = Field(default=None, description="index of the run.json session")

    @property
    def answered(self) -> bool:
        return self.status == "ok" and self.prediction is not None

    @property
    def retryable(self) -> bool:
        """Lost to the machine, not to the image, and not yet tried too often."""
        return self.error_kind == "infrastructure" and self.attempt < MAX_ATTEMPTS


class BadLine(BaseModel):
    """A line of a results log that is not a row: where it is, why, and what it held."""

    line: int
    reason: str
    text: str

    def where(self, path: Path) -> str:
        return f"{path}:{self.line}"


class SetAside(BadLine):
    """A line moved to the side file by :meth:`ResultsLog.repair`."""

    set_aside: str
    id: str | None = None


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "row"
        return f"{where}: {first.get('msg', 'invalid')}"
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


class ResultsLog:
    """An append-only JSONL of records with an ``id`` (``predictions.jsonl`` of a run
    directory, ``cot.jsonl`` of CoT data): fsynced appends, damage reported by ``file:line`` and
    set aside on resume."""

    def __init__(self, path: Path, model: type[BaseModel] | None = None):
        self.path = path
        self.model = model or ResultRow

    @property
    def side_path(self) -> Path:
        """Where :meth:`repair` keeps what it set aside (``predictions.rejected.jsonl``)."""
        return self.path.with_name(self.path.stem + ".rejected.jsonl")

    def scan(self) -> tuple[list[tuple[int, bytes, BaseModel]], list[BadLine]]:
        """Every line as ``(line number, raw bytes, row)``, and the lines that are not rows (a
        last line without its newline is one: its writer was killed mid-write)."""
        if not self.path.exists():
            return [], []
        rows, bad = [], []
        with self.path.open("rb") as f:
            for number, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                text = raw.decode("utf-8", errors="replace").rstrip("\n")
                if not raw.endswith(b"\n"):
                    bad.append(BadLine(line=number, reason="unfinished last line (the writer "
                                       "was stopped mid-write)", text=text))
                    continue
                try:
                    rows.append((number, raw, self.model.model_validate_json(raw.rstrip(b"\n"))))
                except (ValidationError, ValueError) as exc:
                    bad.append(BadLine(line=number, reason=f"not a valid row ({_why(exc)})",
                                       text=text))
        return rows, bad

    def read(self, warn: Callable[[str], None] | None = None) -> list:
        """One row per id, in file order. For each id the first row that is not retryable wins
        (else its first row). Lines that are not rows are skipped, each with one warning naming
        ``file:line`` (through ``warn``, by default the ``sinoloc.eval.results`` logger)."""
        rows, bad = self.scan()
        for item in bad:
            (warn or log.warning)(f"{item.where(self.path)}: {item.reason}; skipped")
        chosen: dict[str, BaseModel] = {}
        for _, _, row in rows:
            held = chosen.get(row.id)
            if held is None or (getattr(held, "retryable", False)
                                and not getattr(row, "retryable", False)):
                chosen[row.id] = row
        return list(chosen.values())

    def repair(self, retry: bool = True) -> list[SetAside]:
        """Set aside every line that is not a row, every later duplicate of an id and (with
        ``retry``) every retryable row, so that the images they stand for run again; the caller
        must hold the run directory's lock. Returns what was set aside (nothing: the log is
        untouched)."""
        rows, bad = self.scan()
        now = datetime.now(UTC).isoformat(timespec="seconds")
        aside = [SetAside(**b.model_dump(), set_aside=now) for b in bad]
        keep: list[bytes] = []
        kept_at: dict[str, int] = {}
        for number, raw, row in rows:
            text = raw.decode("utf-8").rstrip("\n")
            if retry and getattr(row, "retryable", False):
                aside.append(SetAside(line=number, id=row.id, text=text, set_aside=now,
                                      reason=f"retryable ({row.error_kind}: {row.error})"))
            elif row.id in kept_at:
                aside.append(SetAside(line=number, id=row.id, text=text, set_aside=now,
                                      reason=f"duplicate of line {kept_at[row.id]}"))
            else:
                kept_at[row.id] = number
                keep.append(raw)
        if not aside:
            return []
        with self.side_path.open("ab") as f:  # (1) kept safe before they leave the log
            for item in aside:
                f.write((item.model_dump_json() + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
        atomic_write(self.path, b"".join(keep))  # (2) and (3)
        return aside

    def append(self, row: BaseModel) -> None:
        line = (json.dumps(row.model_dump(mode="json"), ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that it is always either the old or the new file: a
    uniquely named temporary file beside it (never a shared ``.tmp`` name two writers could
    race on), fsynced, renamed over it, and the directory fsynced."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

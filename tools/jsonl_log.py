"""An append-only JSONL log of records with an ``id``: eval's results (``predictions.jsonl``) and
the CoT data of ``sinoloc sft`` (``cot.jsonl``) are such logs, so it lives below both.

Each record is one line, written with a single ``write`` on an ``O_APPEND`` descriptor and
``fsync``-ed before the next one starts, so a writer killed at any moment leaves every finished
record intact and at most one partial last line.

Damage anywhere else (a torn line in the middle, left by a writer that did not hold the run
directory's lock, a disk fault or a hand edit) is never fatal: readers skip the line with a warning
that names ``file:line``, and :meth:`JsonlLog.repair` (run by ``--resume`` under the lock) sets
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
from typing import Any, Generic, Protocol, Self, TypeVar

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)


class LogRecord(Protocol):
    """What a :class:`JsonlLog` holds: a pydantic record with an ``id`` (a ``ResultRow``, a
    CoT record); spelled as a protocol because the id is the one field the log relies on."""

    id: str

    @classmethod
    def model_validate_json(cls, json_data: bytes) -> Self: ...

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


R = TypeVar("R", bound=LogRecord)


class BadLine(BaseModel):
    """A line of a log that is not a row: where it is, why, and what it held."""

    line: int
    reason: str
    text: str

    def where(self, path: Path) -> str:
        return f"{path}:{self.line}"


class SetAside(BadLine):
    """A line moved to the side file by :meth:`JsonlLog.repair`."""

    set_aside: str
    id: str | None = None


def error_line(exc: Exception) -> str:
    """One line on why a line is not a valid record (the field and the message)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "row"
        return f"{where}: {first.get('msg', 'invalid')}"
    return str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__


class JsonlLog(Generic[R]):
    """An append-only JSONL of records with an ``id`` (``predictions.jsonl`` of a run
    directory, ``cot.jsonl`` of CoT data): fsynced appends, damage reported by ``file:line`` and
    set aside on resume."""

    logger = log  # where :meth:`read` warns by default (eval's results log names its own module)

    def __init__(self, path: Path, model: type[R]) -> None:
        self.path = path
        self.model = model

    def retry_reason(self, row: R) -> str | None:
        """Why ``row`` is to run again (its id is not done yet), or None when it is final. Records
        here are final once written; eval's results log retries rows lost to the machine."""
        return None

    @property
    def side_path(self) -> Path:
        """Where :meth:`repair` keeps what it set aside (``predictions.rejected.jsonl``)."""
        return self.path.with_name(self.path.stem + ".rejected.jsonl")

    def scan(self) -> tuple[list[tuple[int, bytes, R]], list[BadLine]]:
        """Every line as ``(line number, raw bytes, row)``, and the lines that are not rows (a
        last line without its newline is one: its writer was killed mid-write)."""
        if not self.path.exists():
            return [], []
        rows: list[tuple[int, bytes, R]] = []
        bad: list[BadLine] = []
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
                    bad.append(BadLine(line=number, reason=f"not a valid row ({error_line(exc)})",
                                       text=text))
        return rows, bad

    def read(self, warn: Callable[[str], None] | None = None) -> list[R]:
        """One row per id, in file order. For each id the first row that is not retryable wins
        (else its first row). Lines that are not rows are skipped, each with one warning naming
        ``file:line`` (through ``warn``, by default the class's :attr:`logger`)."""
        rows, bad = self.scan()
        for item in bad:
            (warn or self.logger.warning)(f"{item.where(self.path)}: {item.reason}; skipped")
        chosen: dict[str, R] = {}
        for _, _, row in rows:
            held = chosen.get(row.id)
            if held is None or (self.retry_reason(held) is not None
                                and self.retry_reason(row) is None):
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
            why = self.retry_reason(row) if retry else None
            if why is not None:
                aside.append(SetAside(line=number, id=row.id, text=text, set_aside=now,
                                      reason=why))
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

    def append(self, row: R) -> None:
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

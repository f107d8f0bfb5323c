"""Writing a record as the run goes: blobs once each, steps in order, each line one ``write`` on
an ``O_APPEND`` descriptor (several worker processes may append to one record; a killed run keeps
every finished line). :func:`open_record` prepares the folder once per run, under the run's lock:
the manifest, and a torn last line (a writer killed mid-line) cut off so that appends resume on a
line boundary."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from sinoloc.agent.records.normalize import canonical, content_hash
from sinoloc.agent.records.schema import BLOBS, MANIFEST, STEPS, VERSION, Manifest, Step


class RecordError(ValueError):
    """A record that cannot be read: the message names the file and the line."""


def _cut_torn_tail(path: Path) -> int:
    """Truncate ``path`` after its last newline; the bytes cut (0 when it ends on one)."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as handle:
        handle.seek(max(0, size - 1))
        if handle.read(1) == b"\n":
            return 0
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        handle.truncate(keep)
        return size - keep


def open_record(folder: Path, *, backend: str | None = None, settings: dict | None = None,
                code: dict | None = None) -> Path:
    """Create ``folder`` (or reopen it to append: a resumed run) and return it. A manifest of
    another format version is refused: one record holds one version."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / MANIFEST
    if manifest.exists():
        try:
            found = Manifest.model_validate_json(manifest.read_bytes())
        except ValueError as exc:
            raise RecordError(f"{manifest}:1: not a record manifest ({exc})") from None
        if found.version != VERSION:
            raise RecordError(f"{manifest}:1: format version {found.version}; this sinoloc "
                              f"writes version {VERSION} (record into another folder)")
    else:
        manifest.write_text(Manifest(
            version=VERSION, created=datetime.now(UTC).isoformat(timespec="seconds"),
            code=code or {}, backend=backend, settings=settings or {}).model_dump_json(indent=2),
            encoding="utf-8")
    for name in (BLOBS, STEPS):
        _cut_torn_tail(folder / name)
    return folder


def known_blobs(path: Path) -> set[str]:
    """The hashes a blobs file holds (read without parsing the values)."""
    found: set[str] = set()
    if path.exists():
        with path.open("rb") as handle:
            for line in handle:
                if line.startswith(b'{"h":"'):
                    found.add(line[6:6 + 32].decode("ascii", "replace"))
    return found


class RecordWriter:
    """Appends to one record folder (thread-safe; one per process)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._blobs = os.open(folder / BLOBS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._steps = os.open(folder / STEPS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._have = known_blobs(folder / BLOBS)
        self._lock = threading.Lock()
        self.bytes_written = 0

    def blob(self, value) -> str:
        """Store ``value`` (once) and return its hash."""
        h = content_hash(value)
        with self._lock:
            if h not in self._have:
                line = ('{"h":"' + h + '","d":' + canonical(value) + "}\n").encode()
                os.write(self._blobs, line)
                self.bytes_written += len(line)
                self._have.add(h)
        return h

    def step(self, step: Step) -> None:
        line = (json.dumps(step.model_dump(exclude_none=True), ensure_ascii=False,
                           separators=(",", ":")) + "\n").encode()
        with self._lock:
            os.write(self._steps, line)
            self.bytes_written += len(line)

    def close(self) -> None:
        for fd in (self._blobs, self._steps):
            with contextlib.suppress(OSError):
                os.close(fd)


__all__ = ["RecordError", "RecordWriter", "known_blobs", "open_record"]

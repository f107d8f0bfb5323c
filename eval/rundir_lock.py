"""One writer per eval run directory: an exclusive ``flock`` on ``RUN_DIR/.lock``.

Two ``eval run --resume`` on one ``--out`` used to evaluate every image twice (both read the
same "done" set, both appended) and race on ``run.json``. The lock is taken before anything in the
directory is read and held until the run has written its last record; the kernel drops it when
the holder dies, even by kill -9, so a stale lock never needs clearing by hand. The holder writes
its pid, host, start time and command into the file, so that the refusal can say who holds it.
On NFS, Linux emulates ``flock`` with POSIX byte-range locks, which the server arbitrates, so
the lock holds across machines sharing the disk too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

LOCK_FILE = ".lock"


class RunDirBusy(RuntimeError):
    """Another process holds the run directory."""


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
        if info:
            return (f"pid {info.get('pid', '?')} on {info.get('host', '?')} since "
                    f"{info.get('started', '?')}")
    return "another process (it has not written its details yet)"


class RunDirLock:
    """``with RunDirLock(run_dir):`` holds the directory or raises :class:`RunDirBusy` at once."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK_FILE
        self.fd: int | None = None
        self.created = False

    def acquire(self) -> RunDirLock:
        self.created = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by workers
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunDirBusy(f"{self.path.parent} is in use by {holder}; wait for that run to "
                             "end or choose another --out") from None
        except BaseException:
            os.close(fd)
            raise
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)  # no stale holder details for the next reader
            if self.created and [p.name for p in self.path.parent.iterdir()] == [LOCK_FILE]:
                with contextlib.suppress(OSError):  # a run refused before it began: no litter
                    self.path.unlink()
                    self.path.parent.rmdir()
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

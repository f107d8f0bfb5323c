"""The web app's run records (issue 34): a thread whose client opted in (``record: true`` in the
locate request's settings) records every run on it, its follow-up questions and review decisions
included, into one record folder under the operator's ``sinoloc serve --record-dir DIR``:
``DIR/THREAD_ID`` (thread ids are the server's own, checked before use).

The trust boundary: the client's setting is a bool and nothing else; the folder is the
operator's, and a server started without one refuses ``record: true`` with one line. A thread
records exactly when its folder exists (made by its first, opted-in run), so a follow-up on a
thread that did not opt in writes nothing.

Each run is one image session of the record (see agent/records/locate.py): the locate run is
named by the image's content hash (its first 12 hex digits), a later run on the thread by that
name and ``.ask<n>`` / ``.review<n>``. ``sinoloc locate --replay DIR/THREAD IMAGE`` replays the
locate run of the same image (found by its content hash, whatever the file is called now);
``sinoloc eval show DIR/THREAD ID`` prints any run's steps. A worker thread runs a whole run
(app/web/runner.py), so the session's context variable holds for all of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from sinoloc.agent.boundary import ClientInputError, ServeBoundary
from sinoloc.agent.records.recording import RunRecording
from sinoloc.agent.records.schema import MANIFEST, STEPS
from sinoloc.agent.records.session import ReplayMiss
from sinoloc.app.chat.threads import check_thread_id
from sinoloc.eval.replay import RECORDED_SETTINGS

RECORD_SETTING = "record"
NOT_RECORDING = ("record: this server does not record runs (its operator starts it with "
                 "--record-dir DIR)")
RunKind = Literal["locate", "ask", "review"]


def record_opt_in(settings: dict, records: ThreadRecords | None) -> tuple[dict, bool]:
    """``settings`` without the client's ``record`` setting, and whether it asked to record.
    The setting is a bool (a client never names a folder); asking a server without the
    operator's folder is refused."""
    rest = dict(settings)
    wanted = rest.pop(RECORD_SETTING, None)
    if wanted is None:
        return rest, False
    if not isinstance(wanted, bool):
        raise ClientInputError("record: true or false (where records go is the server "
                               "operator's choice)")
    if wanted and records is None:
        raise ClientInputError(NOT_RECORDING)
    return rest, wanted


class ThreadRecords:
    """The operator's folder of thread records (see the module)."""

    def __init__(self, folder: Path, boundary: ServeBoundary, backend: str | None = None):
        self.folder = Path(folder).expanduser().resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.boundary = boundary
        self.backend = backend

    def folder_of(self, thread_id: str) -> Path:
        check_thread_id(thread_id)
        return self.folder / thread_id

    def recording(self, thread_id: str) -> bool:
        """Whether the thread opted in (its record folder exists)."""
        return (self.folder_of(thread_id) / MANIFEST).exists()

    def _image_dir(self, image: str | None) -> Path:
        """The folder the run's image lies in on this host (written as ``<image_dir>``)."""
        if image is not None and not self.boundary.is_upload(image) \
                and self.boundary.images_root is not None:
            return self.boundary.images_root.expanduser().resolve()
        return self.boundary.upload_dir.expanduser().resolve()

    @contextlib.contextmanager
    def run(self, thread_id: str, kind: RunKind, image: str | None = None,
            configurable: dict | None = None) -> Iterator[None]:
        """One run on the thread as one session of its record; ``image`` (the client's upload
        or image name) and ``configurable`` (its checked settings, kept in the manifest as an
        eval run keeps its own) for the locate run, which starts the record. Nothing is
        recorded for a thread that did not opt in."""
        folder = self.folder_of(thread_id)
        if kind == "locate":
            assert image is not None
            sha = hashlib.sha256(self.boundary.image_bytes(image)).hexdigest()
        elif not self.recording(thread_id):
            yield
            return
        else:
            sha = _first_sha256(folder)
        settings = {k: v for k, v in (configurable or {}).items() if k in RECORDED_SETTINGS}
        recording = RunRecording(record_to=folder, prepare=True,
                                 backend=settings.get("llm") or self.backend, settings=settings)
        name = sha[:12] if kind == "locate" else f"{sha[:12]}.{kind}{_runs_in(folder)}"
        try:
            with recording.image(name, sha, image_dir=self._image_dir(image)) as session:
                try:
                    yield
                except BaseException as exc:
                    session.finish("cancelled" if isinstance(exc, GeneratorExit)
                                   else "replay_miss" if isinstance(exc, ReplayMiss)
                                   else exc.__class__.__name__)
                    raise
                session.finish("ok")
        finally:
            recording.close()


def _first_sha256(folder: Path) -> str:
    """The content hash of the thread's image (the first run's start step)."""
    with (folder / STEPS).open("rb") as handle:
        for line in handle:
            sha = json.loads(line).get("sha256")
            if sha:
                return sha
    raise ClientInputError("record: this thread's record holds no run of its image")


def _runs_in(folder: Path) -> int:
    """How many runs the thread's record holds (each began with a start step)."""
    with (folder / STEPS).open("rb") as handle:
        return sum(b'"kind":"start"' in line for line in handle)


__all__ = ["NOT_RECORDING", "RECORD_SETTING", "ThreadRecords", "record_opt_in"]

"""The web app's run records (issue 34): a thread whose client opted in (``record: true`` in the
locate request's settings) records every run on it, its follow-up questions and review decisions
included, into one record folder under the operator's ``sinoloc serve --record-dir DIR``:
``DIR/THREAD_ID`` (thread ids are the server's own, checked before use).

The trust boundary: the client's setting is a bool and nothing else; the folder is the
operator's, and a server started without one refuses ``record: true`` with one line. A thread
records exactly when its folder exists (made by its first, opted-in run), so a follow-up on a
thread that did not opt in writes nothing.

Each run is one session of the thread's record, named and recorded as every thread's run is
(agent/records/threads.py: ``<sha12>``, ``<sha12>.ask<n>``, ``<sha12>.review<n>``, a follow-up's
question and a review's decision kept with it). ``sinoloc chat --replay DIR/THREAD IMAGE``
replays the whole thread, its follow-ups and review included; ``sinoloc locate --replay
DIR/THREAD IMAGE`` its locate run (the image found by its content hash, whatever the file is
called now); ``sinoloc eval show DIR/THREAD ID`` prints any run's steps. A worker thread runs a
whole run (app/web/runner.py), so the session's context variable holds for all of it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from sinoloc.agent.boundary import ClientInputError, ServeBoundary
from sinoloc.agent.records.schema import MANIFEST
from sinoloc.agent.records.threads import RunKind, ThreadRecorder
from sinoloc.app.chat.threads import check_thread_id
from sinoloc.eval.replay import RECORDED_SETTINGS

RECORD_SETTING = "record"
NOT_RECORDING = ("record: this server does not record runs (its operator starts it with "
                 "--record-dir DIR)")


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
            configurable: dict | None = None, data: dict | None = None) -> Iterator[None]:
        """One run on the thread as one session of its record; ``image`` (the client's upload
        or image name) and ``configurable`` (its checked settings, kept in the manifest as an
        eval run keeps its own) for the locate run, which starts the record; ``data``: what a
        replay asks again (a follow-up's question, a review's decision). Nothing is recorded
        for a thread that did not opt in."""
        self.folder_of(thread_id)  # the server's own id, checked before use
        if kind != "locate" and not self.recording(thread_id):
            yield
            return
        sha = None
        if kind == "locate":
            assert image is not None
            sha = hashlib.sha256(self.boundary.image_bytes(image)).hexdigest()
        settings = {k: v for k, v in (configurable or {}).items() if k in RECORDED_SETTINGS}
        if kind == "locate" and (configurable or {}).get("review"):
            data = {"review": True}  # it stopped for review: its replay does too
        recorder = ThreadRecorder(self.folder, backend=settings.get("llm") or self.backend)
        with recorder.run(thread_id, kind, sha256=sha, image_dir=self._image_dir(image),
                          data=data, settings=settings):
            yield


__all__ = ["NOT_RECORDING", "RECORD_SETTING", "ThreadRecords", "record_opt_in"]

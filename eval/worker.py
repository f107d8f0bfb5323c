"""Locating one labelled image without leaking its label, and the worker process that does it.

Leak guards: the image is copied to a neutral file name before the locator sees it (so neither
the dataset's file name nor its directory can reach the model, a tool or an outbound query),
EXIF is ignored, and the truth is attached to the row only after the prediction exists. The copy
is deleted as soon as the image is done, and the copies live under a per-run temporary root that
the runner removes at the end of every run, also after SIGTERM or a worker's death.

A worker ignores SIGINT (a Ctrl-C reaches the whole process group; the runner decides when the
workers stop) and leaves on SIGTERM or a closed pipe without a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from sinoloc.agent.records import ReplayMiss
from sinoloc.eval.datasets import LabelledImage
from sinoloc.eval.replay import image_hash, run_recording
from sinoloc.eval.results import ErrorKind, ResultRow, Status
from sinoloc.eval.run_config import RunConfig, build_locator
from sinoloc.tools.images import ImageInputError, copy_image_file
from sinoloc.tools.secrets import scrub_secrets

NEUTRAL_STEM = "query"
# errors of the machine, not of the image: a retry elsewhere or later can succeed
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.ENOMEM, errno.EMFILE,
                            errno.ENFILE})


class Evaluator:
    """Runs a locator over labelled images, one :class:`ResultRow` each."""

    def __init__(self, locator, config: RunConfig, tmp_root: str | None = None):
        self.locator = locator
        self.config = config
        self._tmp = tempfile.TemporaryDirectory(prefix="sinoloc-eval-", dir=tmp_root)
        self.recording = run_recording(config)

    def neutral_path(self, image: str) -> Path:
        """A name that says nothing (``query.jpg``) for the copy of ``image``."""
        return Path(self._tmp.name) / (NEUTRAL_STEM + Path(image).suffix.lower()[:6])

    def neutral_copy(self, image: str) -> Path:
        """The image under its neutral name."""
        target = self.neutral_path(image)
        copy_image_file(image, target, label=Path(image).name)  # a regular image file only
        return target

    def locate(self, item: LabelledImage, attempt: int = 1) -> ResultRow:
        with self.recording.image(item.id, image_hash(item.image), attempt,
                                  Path(self._tmp.name)) as session:
            row = self._locate(item, attempt)
            replay = session.finish(row.status)
        return row.model_copy(update={"replay": replay or None})

    def _locate(self, item: LabelledImage, attempt: int) -> ResultRow:
        start = time.perf_counter()
        status: Status = "ok"
        error: str | None = None
        kind: ErrorKind | None = None
        prediction: dict | None = None
        path = self.neutral_path(item.image)
        try:
            self.neutral_copy(item.image)
            prediction = self.locator.locate(path, **self.config.request_options()).model_dump(
                mode="json")
        except ReplayMiss as exc:  # the record lacks what the graph asked (--replay-miss stop)
            status, error, kind = "replay_miss", str(exc), "locator"
        except MemoryError as exc:
            status, error, kind = "error", f"{exc.__class__.__name__}: {exc}", "infrastructure"
        except OSError as exc:
            machine = exc.errno in MACHINE_ERRNOS
            status = "error" if machine else "bad_image"
            error = f"{exc.__class__.__name__}: {exc}"
            kind = "infrastructure" if machine else "image"
        except ImageInputError as exc:
            status, error, kind = "bad_image", f"{exc.__class__.__name__}: {exc}", "image"
        except Exception as exc:  # one image's failure is a row, never the end of the run
            status, error, kind = "error", f"{exc.__class__.__name__}: {exc}", "locator"
        finally:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        return ResultRow(id=item.id, status=status, error=scrub_secrets(error) if error else None,
                         error_kind=kind,
                         seconds=round(time.perf_counter() - start, 3), truth=item.truth,
                         attributes=item.attributes, prediction=prediction, attempt=attempt)

    def close(self) -> None:
        self.recording.close()
        self._tmp.cleanup()


def _leave(signum, frame) -> None:
    sys.exit(0)  # unwinds through ``finally``: the worker's copies are removed


def serve(config_json: str, conn, tmp_root: str | None = None) -> None:
    """A worker process: build the locator, say ready, then answer one ``{"item", "attempt"}``
    per message; ``None`` or a closed pipe ends it quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked while we were spawned
    signal.signal(signal.SIGTERM, _leave)
    evaluator = None
    try:
        try:
            config = RunConfig.model_validate_json(config_json)
            evaluator = Evaluator(build_locator(config), config, tmp_root)
        except Exception as exc:
            conn.send({"fatal": f"{exc.__class__.__name__}: {exc}",
                       "traceback": traceback.format_exc()})
            return
        conn.send({"ready": True})
        while True:
            message = conn.recv()
            if message is None:
                return
            row = evaluator.locate(LabelledImage.model_validate(message["item"]),
                                   message.get("attempt", 1))
            conn.send(row.model_dump(mode="json"))
    except (EOFError, OSError):  # the runner is gone (a broken pipe): nobody to answer
        return
    finally:
        if evaluator is not None:
            evaluator.close()

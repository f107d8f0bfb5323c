"""Locating one labelled image without leaking its label, and the worker process that does it.

Leak guards: the image is copied to a neutral file name before the locator sees it (so neither
the dataset's file name nor its directory can reach the model, a tool or an outbound query),
EXIF is ignored, and the truth is attached to the row only after the prediction exists.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from pathlib import Path

from ..tools.images import ImageInputError
from .datasets import LabelledImage
from .results import ResultRow
from .run_config import RunConfig, build_locator

NEUTRAL_STEM = "query"


class Evaluator:
    """Runs a locator over labelled images, one :class:`ResultRow` each."""

    def __init__(self, locator, config: RunConfig):
        self.locator = locator
        self.config = config
        self._tmp = tempfile.TemporaryDirectory(prefix="sinoloc-eval-")

    def neutral_copy(self, image: str) -> Path:
        """The image under a name that says nothing (``query.jpg``)."""
        target = Path(self._tmp.name) / (NEUTRAL_STEM + Path(image).suffix.lower()[:6])
        shutil.copyfile(image, target)
        return target

    def locate(self, item: LabelledImage) -> ResultRow:
        start = time.perf_counter()
        status, error, prediction = "ok", None, None
        try:
            path = self.neutral_copy(item.image)
            prediction = self.locator.locate(path, **self.config.request_options()).model_dump(
                mode="json")
        except (ImageInputError, OSError) as exc:
            status, error = "bad_image", f"{exc.__class__.__name__}: {exc}"
        except Exception as exc:  # one image's failure is a row, never the end of the run
            status, error = "error", f"{exc.__class__.__name__}: {exc}"
        return ResultRow(id=item.id, status=status, error=error,
                         seconds=round(time.perf_counter() - start, 3), truth=item.truth,
                         attributes=item.attributes, prediction=prediction)

    def close(self) -> None:
        self._tmp.cleanup()


def serve(config_json: str, conn) -> None:
    """A worker process: build the locator, say ready, then answer one item per message."""
    try:
        config = RunConfig.model_validate_json(config_json)
        evaluator = Evaluator(build_locator(config), config)
    except Exception as exc:
        conn.send({"fatal": f"{exc.__class__.__name__}: {exc}",
                   "traceback": traceback.format_exc()})
        return
    conn.send({"ready": True})
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the runner is gone
                return
            if message is None:
                return
            row = evaluator.locate(LabelledImage.model_validate(message))
            conn.send(row.model_dump(mode="json"))
    finally:
        evaluator.close()

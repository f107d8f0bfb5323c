"""Many images in one process: ``sinoloc locate a.jpg photos/ 'street/*.jpg' --out rows.jsonl``.

Three small pieces, each replaceable:

* :func:`expand_inputs` turns what the user typed (files, folders, glob patterns) into an ordered
  list of files, and fails at once (before any model loads) on a name that matches nothing.
* :func:`locate_many` is the *engine*: it takes an iterable of image paths and a function
  locating one image, and yields one :class:`BatchRow` per path, in input order. A file that
  cannot be read, or a locate that fails, is a row with its error, never the end of the run.
  ``workers`` > 1 runs that many images at once on threads of this process, so the models stay
  loaded once. Another engine (a Ray cluster, say) plugs in by yielding the same rows for the
  same paths; everything around it (resume, output, progress, exit code) stays as it is.
* :class:`RowSink` writes rows as JSONL (one GeoPrediction per line, plus ``file``, the
  path as given: GeoPrediction's own ``image`` describes the pixels; a failed image is
  ``{"file": …, "error": …}``) or as a CSV summary, flushed row by row; with a file,
  :func:`finished_images` reads back what a killed run already wrote so that resuming locates
  every image exactly once.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pydantic import BaseModel, Field, model_validator

if TYPE_CHECKING:
    from sinoloc.agent.schemas import GeoPrediction

IMAGE_SUFFIXES = frozenset((".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
                            ".heic", ".heif"))
ROW_KEY = "file"  # the input path in a row (GeoPrediction has no field of that name)
CSV_COLUMNS = ("file", "status", "province", "city", "district", "adcode", "lat", "lon",
               "precision_km", "confidence_province", "confidence_city", "confidence_district",
               "basis", "error")


class BatchInputError(ValueError):
    """A name on the command line that is no file, no folder and matches no file."""


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                  and p.is_file())


def expand_inputs(specs: Iterable[str]) -> list[Path]:
    """Files as given, folders searched recursively for image files (by suffix), glob patterns
    (``**`` allowed) expanded; in the order given, each file once. Checks names only: reading
    the files is the engine's job (an unreadable one becomes its own row)."""
    out: dict[str, Path] = {}
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            found = _images_under(path)
            if not found:
                raise BatchInputError(f"{spec}: no image file in this folder "
                                      f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        elif path.exists():
            found = [path]
        elif _is_glob(spec):
            found = sorted(Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True)
                           if Path(p).is_file())
            if not found:
                raise BatchInputError(f"{spec}: no file matches this pattern")
        else:
            raise BatchInputError(f"{spec}: no such file or folder")
        for p in found:
            out.setdefault(os.path.abspath(p), p)
    return list(out.values())


class EngineError(RuntimeError):
    """The engine cannot go on (a cluster whose actors cannot start): the batch stops with the
    rows already written, and the same command resumes it."""


class BatchRow(BaseModel):
    """One image's outcome: the prediction, or the one-line reason there is none."""

    file: str
    prediction: dict | None = None  # GeoPrediction as JSON (kept plain: rows are written as read)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def json_line(self) -> str:
        body = {ROW_KEY: self.file, "error": self.error} if not self.ok \
            else {ROW_KEY: self.file, **(self.prediction or {})}
        return json.dumps(body, ensure_ascii=False)

    def csv_values(self) -> list[str]:
        p = self.prediction or {}
        confidence = p.get("confidence") or {}
        adcode = p.get("district_adcode") or p.get("city_adcode") or p.get("province_adcode")
        values = {"file": self.file, "status": "ok" if self.ok else "error",
                  "province": p.get("province"), "city": p.get("city"),
                  "district": p.get("district"), "adcode": adcode, "lat": p.get("lat"),
                  "lon": p.get("lon"), "precision_km": p.get("precision_km"),
                  "confidence_province": confidence.get("province"),
                  "confidence_city": confidence.get("city"),
                  "confidence_district": confidence.get("district"), "basis": p.get("basis"),
                  "error": self.error}
        return ["" if values[c] is None else str(values[c]) for c in CSV_COLUMNS]


def _error_text(exc: BaseException) -> str:
    from sinoloc.tools.images import ImageInputError

    if isinstance(exc, ImageInputError):
        return str(exc)
    return f"{exc.__class__.__name__}: {exc}"


def locate_one(path: Path, locate: Callable[[Path], GeoPrediction]) -> BatchRow:
    """``locate(path)`` as a row; any failure (an unreadable file, a crash in a tool) is the
    row's error."""
    try:
        prediction = locate(path)
    except Exception as exc:  # one image's failure is its row, not the end of the batch
        return BatchRow(file=str(path), error=_error_text(exc))
    return BatchRow(file=str(path), prediction=prediction.model_dump(mode="json"))


def locate_many(paths: Iterable[Path], locate: Callable[[Path], GeoPrediction],
                workers: int = 1) -> Iterator[BatchRow]:
    """The in-process engine: one row per path, in input order, ``workers`` images at a time
    (threads sharing the loaded models; OCR and ONNX inference release the GIL). At most
    ``2 × workers`` images are in flight, so a long list is never read ahead."""
    if workers <= 1:
        for path in paths:
            yield locate_one(path, locate)
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sinoloc-locate")
    pending: deque = deque()
    try:
        for path in paths:
            pending.append(pool.submit(locate_one, path, locate))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class BatchSettings(BaseModel):
    """Everything that decides how one image of a batch is located, resolved in the driver
    (environment defaults included): the local engine uses :attr:`options` as they are, and
    another engine's processes (Ray actors) rebuild the same locator from it with
    :meth:`locate_function`, so a row does not depend on the engine that made it."""

    llm: dict = Field(description="the resolved LlmSpec (provider, model, base URL, limits)")
    options: dict = Field(description="Geolocator.locate keywords (LocateSettings fields)")
    knowledge_files: str = Field(default="", description=(
        "the user's clue files, os.pathsep-separated absolute paths (SINOLOC_KNOWLEDGE_FILES)"))

    @model_validator(mode="after")
    def _check(self) -> BatchSettings:
        from sinoloc.agent.settings import LocateSettings

        LocateSettings.model_validate(self.options)  # a typo is an error here, not per image
        return self

    def locate_function(self) -> Callable[[Path], GeoPrediction]:
        """A warm locator for these settings in this process (built and checked by the one
        builder, as in the driver): ``locate(path) -> GeoPrediction``."""
        from sinoloc.agent.build import build_locator
        from sinoloc.agent.llm import LlmSpec

        files = [p for p in self.knowledge_files.split(os.pathsep) if p] or None
        return build_locator(self.options, LlmSpec.model_validate(self.llm),
                             knowledge_files=files).geolocator().locate


def output_format(out: str | None, csv_wanted: bool) -> str:
    """``csv`` with --csv or an ``--out`` ending in .csv; JSONL otherwise."""
    return "csv" if csv_wanted or (out or "").lower().endswith(".csv") else "jsonl"


def _complete_lines(path: Path) -> list[str]:
    """The file's complete lines; a last line without its newline (the run was killed while
    writing it) is cut off the file, so that image is located again."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with path.open("r+b") as f:
            f.truncate(end)
    return data[:end].decode("utf-8").splitlines()


def finished_images(path: Path, fmt: str) -> dict[str, bool]:
    """``{absolute image path: located?}`` for the rows an earlier run already wrote to
    ``path``: each image is located once (delete a failed row's line to try it again), and a
    failed row still counts for the exit code."""
    if not path.exists():
        return {}
    lines = _complete_lines(path)
    if fmt == "csv":
        rows = [(row[ROW_KEY], row.get("status") == "ok")
                for row in csv.DictReader(io.StringIO("\n".join(lines))) if row.get(ROW_KEY)]
    else:
        rows = []
        for number, line in enumerate(lines, start=1):
            try:
                data = json.loads(line)
                rows.append((data[ROW_KEY], data.get("error") is None))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise BatchInputError(f"{path}:{number}: not a row sinoloc wrote ({exc}); "
                                      "write to a new --out file") from exc
    return {os.path.abspath(image): ok for image, ok in rows}


class RowSink:
    """Writes rows to a stream as they come, flushed (and synced, for a file) one by one."""

    def __init__(self, stream: TextIO, fmt: str, header: bool = True):
        self.stream, self.fmt = stream, fmt
        self._csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None and header:
            self._csv.writerow(CSV_COLUMNS)
            stream.flush()

    def write(self, row: BatchRow) -> None:
        if self._csv is not None:
            self._csv.writerow(row.csv_values())
        else:
            self.stream.write(row.json_line() + "\n")
        self.stream.flush()
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.fsync(self.stream.fileno())  # a terminal or a pipe: nothing to sync


__all__ = ["ROW_KEY", "BatchInputError", "BatchRow", "BatchSettings", "EngineError", "RowSink",
           "expand_inputs", "finished_images", "locate_many", "locate_one", "output_format"]

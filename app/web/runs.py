"""The eval report viewer of ``sinoloc serve --runs DIR``: the runs in one folder, a run's report
(its tables and figures) and its per-image table with each image, its answer, its map and its
recorded steps (the run's ``record/``, shown as the chat shows a live run).

It lives in app/web/ beside the web app (it reads eval's runs and reports) and is mounted on the app by
app/cli/serve.py only when ``--runs`` is given.

What it may read, and why no request can name a host file:

- a run is a directory *directly* under the ``--runs`` folder holding ``run.json`` and
  ``predictions.jsonl``; its name must match :data:`NAME_RE` and the resolved directory must sit
  in the resolved folder (a ``..`` or a symlink out of it is refused with one line);
- a figure is a ``*.png`` file name (:data:`FIGURE_RE`) in the run's ``report/`` folder;
- an image is the file the run's own dataset names for that image id, read with
  ``read_image_file`` (tools/safe_files.py: a regular file, size-bounded, an image's first bytes),
  so the worst a hand-edited dataset can expose is another image; without one the table shows the
  answer alone;
- inside a run, ``run.json``, ``predictions.jsonl``, the ``report`` folder and every file in it
  must be what they claim, not links: regular files opened with ``O_NOFOLLOW`` (a FIFO or a
  link planted there is refused at once, never read or waited on), and a real directory.

Messages to clients name the run, the image id or the figure, never a host path or what kind
of file was found. The report is ``eval report``'s own (``write_report``), written into a fresh
folder inside the run and moved into ``RUN/report/`` (by its directory descriptor, so a link
swapped in meanwhile is not followed) when it is missing or older than the run's rows;
``report.md`` is shown as HTML by a deliberately tiny Markdown subset (headings, lists, tables,
figures, ``code`` and **bold**: what the report uses).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel

from sinoloc.agent.output.mapdata import MapData, map_data
from sinoloc.agent.output.render import place_label, place_names
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.app.web import static_dir
from sinoloc.app.web.markdown import markdown_html
from sinoloc.eval.datasets import load_dataset
from sinoloc.eval.results import ResultRow
from sinoloc.eval.runner import PREDICTIONS, RUN_FILE, RunError, load_record, rows_of
from sinoloc.eval.scoring import ScoredImage
from sinoloc.tools.images import ImageInputError, read_image_file
from sinoloc.tools.regions import get_region_index
from sinoloc.tools.safe_files import FileRefusedError, read_regular_file

log = logging.getLogger(__name__)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
FIGURE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.png$")
REPORT_DIR = "report"
MAX_REPORT_BYTES = 16 * 1024 * 1024
IMAGE_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG", "image/png"), (b"GIF8", "image/gif"),
               (b"BM", "image/bmp"))


class ViewerError(Exception):
    """A request the viewer refuses: a status and one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class RunInfo(BaseModel):
    name: str
    dataset: str
    system: str
    rows: int
    has_report: bool


class ImageRow(BaseModel):
    id: str
    status: str
    error: str | None
    truth: str
    answer: str | None
    basis: str | None
    error_km: float | None
    image_url: str | None
    map_url: str | None


class RunView(BaseModel):
    name: str
    report_html: str | None
    report_error: str | None
    summary: dict | None
    images: list[ImageRow]


# ------------------------------------------------------------------ reading runs
def _image_type(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((t for magic, t in IMAGE_TYPES if data.startswith(magic)), "application/octet-stream")


@lru_cache(maxsize=16)
def _dataset_images(path: str, mtime_ns: int) -> dict[str, str]:
    """Image id → image file, as the dataset names them (cached per file version)."""
    return {item.id: item.image for item in load_dataset(path, get_region_index())}


class RunsViewer:
    """The runs under one folder (see the module docstring for what it may read)."""

    def __init__(self, root: Path):
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise ValueError(f"--runs {root}: not a directory")
        self._lock = threading.Lock()  # one report written at a time

    def run_dir(self, name: str) -> Path:
        if not NAME_RE.match(name):
            raise ViewerError(400, "run name: letters, digits, '.', '_' and '-' only (a folder "
                                   "directly under --runs)")
        path = (self.root / name).resolve()
        if path.parent != self.root or not all(_regular(path / f) for f in (RUN_FILE, PREDICTIONS)):
            raise ViewerError(404, f"run {name}: no such run under --runs")
        return path

    def runs(self) -> list[RunInfo]:
        out = []
        for child in sorted(self.root.iterdir()):
            try:
                path = self.run_dir(child.name)
                record = load_record(path)
            except (ViewerError, RunError, ValueError, OSError):
                continue
            with (path / PREDICTIONS).open("rb") as f:
                rows = sum(1 for line in f if line.strip())
            out.append(RunInfo(name=child.name, dataset=Path(record.dataset).name,
                               system=record.config.label(), rows=rows,
                               has_report=(path / REPORT_DIR / "report.md").is_file()))
        return out

    def _report(self, path: Path) -> Path:
        """``RUN/report/report.md``, written first when missing or older than the rows."""
        from sinoloc.eval.report import write_report

        folder = path / REPORT_DIR
        report = folder / "report.md"
        with self._lock:
            if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
                raise ViewerError(404, f"run {path.name}: its report folder is not a folder")
            if not _regular(report) or report.lstat().st_mtime < (path / PREDICTIONS).stat().st_mtime:
                scratch = Path(tempfile.mkdtemp(prefix=".report-", dir=path))
                try:
                    write_report(path, get_region_index(), scratch)
                    _move_into(scratch, folder)
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
        return report

    def _images(self, path: Path) -> dict[str, str]:
        record = load_record(path)
        dataset = Path(record.dataset)
        dataset = dataset if dataset.is_absolute() else path / dataset
        try:
            return _dataset_images(str(dataset), dataset.stat().st_mtime_ns)
        except (OSError, ValueError):
            return {}

    def view(self, name: str) -> RunView:
        path = self.run_dir(name)
        html_text = summary = error = None
        scored: dict[str, ScoredImage] = {}
        try:
            report = self._report(path)
            text = _read_own(report).decode("utf-8")
            html_text = markdown_html(text, lambda f: f"/api/runs/{quote(name)}/figures/{f}"
                                      if FIGURE_RE.match(f) else None)
            summary = json.loads(_read_own(report.with_name("summary.json")))
            lines = _read_own(report.with_name("images.jsonl")).decode("utf-8").splitlines()
            scored = {s.id: s for s in map(ScoredImage.model_validate_json, filter(str.strip, lines))}
        except (ValueError, OSError, ViewerError) as exc:  # the details stay in the server's log
            log.warning("run %s: report unreadable: %s", name, exc)
            error = f"run {name}: its report could not be read or written"
        images = self._images(path)
        return RunView(name=name, report_html=html_text, report_error=error, summary=summary,
                       images=[self._row(name, row, scored.get(row.id), row.id in images)
                               for row in rows_of(path)])

    @staticmethod
    def _row(name: str, row: ResultRow, scored: ScoredImage | None, has_image: bool) -> ImageRow:
        prediction = GeoPrediction.model_validate(row.prediction) if row.answered else None
        truth = place_label(row.truth.province, row.truth.city, row.truth.district)
        base = f"/api/runs/{quote(name, safe='')}/images/{quote(row.id, safe='')}"
        return ImageRow(id=row.id, status=row.status, error=row.error,
                        truth=truth or f"{row.truth.lat:.4f}, {row.truth.lon:.4f}",
                        answer=place_names(prediction) if prediction else None,
                        basis=prediction.basis if prediction else None,
                        error_km=round(scored.error_km, 1) if scored else None,
                        image_url=base if has_image else None,
                        map_url=f"{base}/map" if prediction else None)

    def _row_of(self, path: Path, image_id: str) -> ResultRow:
        rows = {row.id: row for row in rows_of(path)}
        if image_id not in rows:
            raise ViewerError(404, f"image {image_id}: not in run {path.name}")
        return rows[image_id]

    def image(self, name: str, image_id: str) -> tuple[bytes, str]:
        path = self.run_dir(name)
        self._row_of(path, image_id)
        file = self._images(path).get(image_id)
        if file is None:
            raise ViewerError(404, f"image {image_id}: the run's dataset does not name it")
        try:
            data = read_image_file(file, label=f"image {image_id}")
        except ImageInputError as exc:  # what the file is (a FIFO, a folder) is the host's
            log.warning("run %s: image %s unreadable: %s", name, image_id, exc)
            raise ViewerError(404, f"image {image_id}: not available") from exc
        return data, _image_type(data)

    def map(self, name: str, image_id: str) -> MapData:
        row = self._row_of(self.run_dir(name), image_id)
        if not row.answered:
            raise ViewerError(404, f"image {image_id}: no answer ({row.status})")
        return map_data(GeoPrediction.model_validate(row.prediction))

    def steps(self, name: str, image_id: str) -> list[dict]:
        """The image's recorded steps (the run's ``record/``), one line each as the chat shows
        them."""
        from sinoloc.agent.records import RecordError
        from sinoloc.app.chat.events import event_line, stream_events
        from sinoloc.eval.replay import show_steps

        path = self.run_dir(name)
        self._row_of(path, image_id)
        try:
            chunks = show_steps(path, image_id)
        except RecordError as exc:
            raise ViewerError(404, str(exc).replace(str(path), name).splitlines()[0]) from exc
        return [{"kind": e.kind, "text": event_line(e).strip()}
                for mode, chunk in chunks for e in stream_events(mode, chunk)]

    def figure(self, name: str, file: str) -> bytes:
        """A PNG of the run's report folder (a link out of it, or a file that is not a PNG, is
        refused like a missing one)."""
        folder = self.run_dir(name) / REPORT_DIR
        if not FIGURE_RE.match(file) or folder.is_symlink():
            raise ViewerError(400, "figure: a .png file name of the run's report")
        figure = folder / file
        missing = ViewerError(404, f"figure {file}: not in run {name}'s report")
        try:
            data = read_regular_file(figure, MAX_REPORT_BYTES, label=f"figure {file}",
                                     follow_symlinks=False)
        except FileRefusedError as exc:
            raise missing from exc
        if not data.startswith(b"\x89PNG"):
            raise missing
        return data


def _regular(path: Path) -> bool:
    """A regular file itself, not a link to one (nor a FIFO, a device, a folder)."""
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _read_own(path: Path) -> bytes:
    """A report file of the run: a regular file, not a link, bounded."""
    return read_regular_file(path, MAX_REPORT_BYTES, follow_symlinks=False)


def _move_into(scratch: Path, folder: Path) -> None:
    """Move the files of ``scratch`` into ``folder`` (created when missing), through the
    folder's own descriptor opened with ``O_NOFOLLOW``: a link put in its place is refused, and
    a link planted on a file's name is replaced, never written through."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir()
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    source, target = os.open(scratch, flags), os.open(folder, flags)
    try:
        for item in scratch.iterdir():
            if _regular(item):
                os.replace(item.name, item.name, src_dir_fd=source, dst_dir_fd=target)
    finally:
        os.close(source)
        os.close(target)


def _answer(call):
    try:
        return call()
    except ViewerError as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)


def runs_router(root: Path) -> APIRouter:
    """The viewer's routes for ``--runs root``: ``/runs`` (the page), ``/api/runs``,
    ``/api/runs/{name}``, its figures, images and per-image maps."""
    viewer = RunsViewer(root)
    router = APIRouter()

    @router.get("/runs", include_in_schema=False)
    def page():
        return FileResponse(static_dir() / "runs.html")

    @router.get("/api/runs", summary="the eval runs under --runs")
    def runs() -> list[RunInfo]:
        return viewer.runs()

    @router.get("/api/runs/{name}", summary="a run's report (HTML, summary) and per-image table",
                response_model=RunView)
    def run(name: str):
        return _answer(lambda: viewer.view(name))

    @router.get("/api/runs/{name}/figures/{file}", summary="a figure of the run's report")
    def figure(name: str, file: str):
        return _answer(lambda: Response(viewer.figure(name, file), media_type="image/png"))

    @router.get("/api/runs/{name}/images/{image_id}", summary="an image of the run's dataset")
    def image(name: str, image_id: str):
        def send():
            data, media_type = viewer.image(name, image_id)
            return Response(data, media_type=media_type,
                            headers={"X-Content-Type-Options": "nosniff"})
        return _answer(send)

    @router.get("/api/runs/{name}/images/{image_id}/map", response_model=MapData,
                summary="the offline map document of one image's answer")
    def image_map(name: str, image_id: str):
        return _answer(lambda: viewer.map(name, image_id))

    @router.get("/api/runs/{name}/images/{image_id}/steps",
                summary="one image's recorded model and tool steps, in order")
    def image_steps(name: str, image_id: str):
        return _answer(lambda: viewer.steps(name, image_id))

    @router.get("/api/runs/{rest:path}", include_in_schema=False)
    def elsewhere(rest: str):
        """Whatever else is asked for under /api/runs (an encoded '/' or '..' in a name): one line."""
        return JSONResponse({"error": "no such run resource: a run name is a folder directly under "
                             "--runs, then /figures/NAME.png, /images/ID or /images/ID/map"},
                            status_code=404)

    return router


__all__ = ["RunsViewer", "ViewerError", "markdown_html", "runs_router"]

"""The runs viewer (``sinoloc serve --runs``) against files planted in a run folder by whoever
can write there: a FIFO where the report's rows are, a ``report`` link out of the run, a link on
the report's own name, a FIFO as a dataset image; and row ids that are not URL-safe."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import httpx
import pytest
from eval_data import labelled_set
from web_server import running_server

from sinoloc.app.cli.main import main
from sinoloc.app.web.runs import RunsViewer, runs_router
from sinoloc.eval.runner import rows_of

pytestmark = pytest.mark.loopback


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """(runs folder, a finished run with its report written, the dataset's folder)."""
    root = tmp_path_factory.mktemp("planted")
    data = labelled_set(root / "data", scenes=1)
    runs = root / "runs"
    assert main(["eval", "run", str(data), "--out", str(runs / "base"), "--workers", "0"]) == 0
    return runs, root / "data"


@pytest.fixture(scope="module")
def client(planted, tmp_path_factory):
    runs, _ = planted
    with running_server(tmp_path_factory.mktemp("serve"), routers=[runs_router(runs)]) as (url, _), \
            httpx.Client(base_url=url, timeout=120) as c:
        yield c


def _copy_run(runs: Path, name: str, with_report: bool = True) -> Path:
    run = runs / name
    shutil.copytree(runs / "base", run, ignore=None if with_report
                    else shutil.ignore_patterns("report"))
    return run


def _unblock(fifo: Path) -> None:
    """Release readers stuck on ``fifo`` (only the old code would be stuck there)."""
    for _ in range(64):
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return
        os.close(fd)


def test_a_fifo_in_the_report_folder_blocks_no_request(client, planted):
    runs, _ = planted
    assert client.get("/api/runs/base").status_code == 200  # the report is written
    run = _copy_run(runs, "fifo")
    rows = run / "report" / "images.jsonl"
    rows.unlink()
    os.mkfifo(rows)
    os.utime(run / "report" / "report.md")  # fresh: the viewer reads, not rewrites
    answers: list[int | str] = []

    def get() -> None:
        try:
            answers.append(httpx.get(f"{client.base_url}/api/runs/fifo", timeout=90).status_code)
        except httpx.HTTPError as exc:
            answers.append(type(exc).__name__)

    try:
        threads = [threading.Thread(target=get) for _ in range(41)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        page = client.get("/api/runs", timeout=90)
    finally:
        _unblock(rows)
    assert answers == [200] * 41 and page.status_code == 200
    view = client.get("/api/runs/fifo").json()
    assert view["report_error"] and "FIFO" not in view["report_error"]
    assert str(run) not in view["report_error"]


def test_a_report_link_out_of_the_run_is_never_written_through(client, planted, tmp_path):
    runs, _ = planted
    run = _copy_run(runs, "linked", with_report=False)
    target = tmp_path / "outside"
    target.mkdir()
    (run / "report").symlink_to(target)
    view = client.get("/api/runs/linked")
    assert view.status_code == 200 and view.json()["report_error"]
    assert list(target.iterdir()) == []


def test_a_link_on_the_reports_name_is_replaced_not_followed(client, planted, tmp_path):
    runs, _ = planted
    run = _copy_run(runs, "renamed", with_report=False)
    victim = tmp_path / "victim.md"
    victim.write_text("keep me", encoding="utf-8")
    (run / "report").mkdir()
    (run / "report" / "report.md").symlink_to(victim)
    view = client.get("/api/runs/renamed").json()
    assert view["report_html"] and "Eval report" in view["report_html"]
    assert victim.read_text(encoding="utf-8") == "keep me"
    assert not (run / "report" / "report.md").is_symlink()


def test_image_errors_do_not_describe_host_files(client, planted):
    _, data = planted
    image = data / "shop.jpg"
    saved = image.read_bytes()
    image.unlink()
    os.mkfifo(image)
    try:
        r = client.get("/api/runs/base/images/shop")
    finally:
        image.unlink()
        image.write_bytes(saved)
    assert r.status_code == 404
    assert r.json() == {"error": "image shop: not available"}


def test_viewer_urls_encode_run_names_and_row_ids(planted):
    runs, _ = planted
    row = rows_of(runs / "base")[0].model_copy(update={"id": "a b/../x?y#z&q=1"})
    out = RunsViewer._row("base", row, None, True)
    assert out.image_url == "/api/runs/base/images/a%20b%2F..%2Fx%3Fy%23z%26q%3D1"
    assert out.map_url == out.image_url + "/map"

"""The eval report viewer of ``sinoloc serve --runs DIR`` over a real socket on 127.0.0.1: the runs
listed, a run's report and per-image table, an image and its map, and every way out of the runs
folder refused with one line."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest
from eval_data import labelled_set
from web_server import running_server

from sinoloc.app.cli.common import EXIT_BAD_INPUT
from sinoloc.app.cli.main import main
from sinoloc.app.web.markdown import markdown_html
from sinoloc.app.web.runs import runs_router

pytestmark = pytest.mark.loopback


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``runs/r1``: the eval runner on the Hangzhou shop sign and one street scene, whose image is
    then replaced by text (the table keeps its answer, the image is refused); ``runs/outside``: a
    link to a run outside the folder."""
    root = tmp_path_factory.mktemp("viewer")
    data = labelled_set(root / "data", scenes=1)
    runs = root / "runs"
    assert main(["eval", "run", str(data), "--out", str(runs / "r1"), "--workers", "0"]) == 0
    (root / "data" / "beijing.jpg").write_text("not an image", encoding="utf-8")
    shutil.copytree(runs / "r1", root / "elsewhere")
    os.symlink(root / "elsewhere", runs / "outside")
    return runs


@pytest.fixture(scope="module")
def client(runs, tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("serve"), routers=[runs_router(runs)]) as (url, _), \
            httpx.Client(base_url=url, timeout=120) as c:
        yield c


def test_lists_the_runs_in_the_folder_only(client):
    r = client.get("/api/runs")
    assert r.status_code == 200, r.text
    assert [run["name"] for run in r.json()] == ["r1"]  # the link out of the folder is not a run
    assert r.json()[0]["rows"] == 2 and r.json()[0]["dataset"] == "set.csv"
    page = client.get("/runs")
    assert page.status_code == 200 and "/static/runs.js" in page.text


def test_a_run_shows_its_report_tables_figures_and_images(client, runs):
    r = client.get("/api/runs/r1")
    assert r.status_code == 200, r.text
    view = r.json()
    assert (runs / "r1" / "report" / "report.md").is_file()  # written on first view
    html = view["report_html"]
    assert "<h1>Eval report: r1</h1>" in html and "<th>mean km</th>" in html
    assert view["summary"]["summary"]["images"] == 2
    figures = [part.split('"')[0] for part in html.split('<img src="')[1:]]
    assert "/api/runs/r1/figures/error_cdf.png" in figures
    png = client.get(figures[0])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    rows = {row["id"]: row for row in view["images"]}
    assert set(rows) == {"shop", "beijing"}
    shop = rows["shop"]
    assert shop["status"] == "ok" and "杭州市" in shop["answer"] and shop["error_km"] is not None
    assert shop["truth"].startswith("浙江省") and shop["map_url"] == "/api/runs/r1/images/shop/map"
    image = client.get(shop["image_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content[:3] == b"\xff\xd8\xff"


def test_an_image_shows_its_recorded_steps_as_the_chat_does(client):
    r = client.get("/api/runs/r1/images/shop/steps")
    assert r.status_code == 200, r.text
    steps = r.json()
    assert steps[0] == {"kind": "tool_start", "text": "→ cnn_prior()"}
    assert [s["kind"] for s in steps][-1] == "verdict"
    assert any(s["kind"] == "tool_result" and s["text"].startswith("← lookup_clues: ok → E1")
               for s in steps)
    missing = client.get("/api/runs/r1/images/nowhere/steps")
    assert missing.status_code == 404 and "image nowhere" in missing.json()["error"]


def test_an_unreadable_dataset_image_is_refused_but_its_answer_stays(client):
    rows = {row["id"]: row for row in client.get("/api/runs/r1").json()["images"]}
    beijing = rows["beijing"]
    assert beijing["status"] == "ok" and beijing["answer"]
    r = client.get(beijing["image_url"])
    assert r.status_code == 404 and "image beijing" in r.json()["error"]


def test_an_image_map_is_the_map_document_of_its_answer(client):
    r = client.get("/api/runs/r1/images/shop/map")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert "330100" in [f["adcode"] for f in doc["claimed"]]
    assert doc["belief"] and doc["legend"] and doc["coordinate_system"] == "WGS-84"
    missing = client.get("/api/runs/r1/images/nope/map")
    assert missing.status_code == 404 and missing.json() == {"error": "image nope: not in run r1"}


@pytest.mark.parametrize("url", [
    "/api/runs/outside", "/api/runs/%2e%2e", "/api/runs/.hidden", "/api/runs/%2e%2e%2fr1",
    "/api/runs/..%2F..%2Fetc", "/api/runs/r1%2F..%2F..", "/api/runs/r1/figures/..%2Frun.json",
    "/api/runs/r1/figures/run.json", "/api/runs/outside/images/shop", "/api/runs/nope"])
def test_every_way_out_of_the_runs_folder_is_refused(client, url):
    r = client.get(url)
    assert r.status_code in (400, 404), (url, r.status_code, r.text)
    assert r.json().keys() == {"error"} and "\n" not in r.json()["error"]


def test_names_outside_the_safe_alphabet_get_one_clear_message(client):
    r = client.get("/api/runs/a;b")
    assert r.status_code == 400
    assert r.json()["error"].startswith("run name: letters, digits")
    r = client.get("/api/runs/outside")
    assert r.status_code == 404 and r.json() == {"error": "run outside: no such run under --runs"}


def test_report_markdown_is_escaped_and_figures_stay_in_the_report():
    html = markdown_html("# a <b>\n\n| x | y |\n|---|---|\n| <script> | **1** |\n\n"
                         "![ok](fig.png)\n![no](../../etc/passwd)\n",
                         lambda f: f"/f/{f}" if f == "fig.png" else None)
    assert "<h1>a &lt;b&gt;</h1>" in html and "<td>&lt;script&gt;</td>" in html
    assert "<strong>1</strong>" in html and '<img src="/f/fig.png" alt="ok">' in html
    assert "passwd" not in html and "<script>" not in html


def test_serve_refuses_a_runs_folder_that_is_not_one(tmp_path, capsys):
    assert main(["serve", "--runs", str(tmp_path / "missing")]) == EXIT_BAD_INPUT
    assert "not a directory" in capsys.readouterr().err

"""The web app and the standalone ``--map`` file in a real browser: Debian's headless Chromium
driven by Playwright, every request that does not go to the test's 127.0.0.1 server aborted and
counted (none may happen). Screenshots are written to the test's tmp dir;
``SINOLOC_README_SCREENSHOT=1`` also refreshes docs/serve.png for the README."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser import CHROMIUM, drop_file, guarded_page
from web_server import running_server

from sinoloc.app.cli.common import demo_image

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "serve.png"

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
pytestmark = [
    pytest.mark.slow, pytest.mark.loopback,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                       "(apt-get install chromium)"),
]


@pytest.fixture
def page(browser):
    """A page whose requests may reach 127.0.0.1, file: and data: only; the rest are aborted and
    listed in ``page.blocked``."""
    context, page = guarded_page(browser, 1400, 860)
    yield page
    context.close()


def test_page_streams_the_run_and_draws_the_offline_map(page, tmp_path):
    with running_server(tmp_path) as (url, _):
        page.goto(url + "/")
        page.wait_for_selector(".map-label-base")  # the base map, drawn from shipped outlines
        drop_file(page, "shop.jpg", demo_image().read_bytes(), "image/jpeg")
        page.wait_for_selector("#answer-place", timeout=120_000)
        assert page.inner_text("#answer-place") == "浙江省杭州市西湖区"
        steps = page.eval_on_selector_all("#timeline li", "els => els.map(e => e.dataset.kind)")
        for kind in ("tool_start", "tool_result", "evidence", "verdict", "answer"):
            assert kind in steps, steps
        assert "E1" in page.inner_text("#timeline")
        assert page.locator("#candidates tr").count() == 11  # header + top_k 10
        assert page.inner_text("#basis") == "basis: evidence"
        # the map: the claimed district outlined and named, the belief layer and its legend
        assert page.locator("path.claimed-district").count() >= 1
        assert page.locator("path.belief-district").count() >= 1
        assert page.inner_text(".map-label-district") == "西湖区"
        legend = page.inner_text(".map-legend")
        assert "belief over districts" in legend and "≥ 30%" in legend
        page.screenshot(path=str(tmp_path / "serve.png"))
        if os.environ.get("SINOLOC_README_SCREENSHOT"):  # a 256-colour copy: small in the repo
            from PIL import Image

            DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
            Image.open(tmp_path / "serve.png").convert("RGB").quantize(256).save(
                DOCS_SCREENSHOT, optimize=True)
        # a follow-up question streams its reply into the same timeline
        page.fill("#question", "why not 江苏?")
        page.click("#ask button")
        page.wait_for_selector("#timeline li.reply")
        # a bad upload: one clear message, nothing else changes
        drop_file(page, "notes.jpg", b"not a photo at all " * 10, "image/jpeg")
        page.wait_for_selector("#error:not([hidden])")
        assert "not an image" in page.inner_text("#error")
        # the map's GCJ-02 transform (for Amap tiles) is the Python one
        from sinoloc.tools import crs

        js = page.evaluate("SinolocMap.wgs84ToGcj02(120.15, 30.25)")
        assert js == pytest.approx(list(crs.wgs84_to_gcj02(120.15, 30.25)), abs=1e-9)
        back = page.evaluate("SinolocMap.gcj02ToWgs84(...SinolocMap.wgs84ToGcj02(120.15, 30.25))")
        assert back == pytest.approx([120.15, 30.25], abs=1e-8)
    assert page.blocked == [] and page.errors == []


def test_standalone_map_file_opens_offline_with_legend_labels_and_guess(page, tmp_path):
    from PIL import Image

    from sinoloc.agent.api import Geolocator
    from sinoloc.app.web.mapview import write_map

    blank = tmp_path / "blank.png"
    Image.new("RGB", (640, 480), (128, 128, 128)).save(blank)
    geolocator = Geolocator(offline=True)
    for name, image, guess in (("found", demo_image(), False), ("guess", blank, True)):
        prediction = geolocator.locate(image)
        assert (prediction.basis == "prior_only") is guess
        path = write_map(prediction, tmp_path / f"{name}.html")
        page.goto(path.as_uri())
        page.wait_for_selector(".map-legend")
        assert "belief over districts" in page.inner_text(".map-legend")
        assert page.locator("path.belief-district").count() >= 1
        assert page.locator(".map-label-base").count() == 34
        assert page.locator(".map-guess").count() == int(guess)
        if not guess:
            assert page.inner_text(".map-label-district") == "西湖区"
        page.screenshot(path=str(tmp_path / f"map-{name}.png"))
    assert page.blocked == [] and page.errors == []


def test_runs_page_shows_a_report_its_images_and_an_image_map(page, tmp_path):
    """``serve --runs``: the page links the viewer; the run listed, its report's tables (their
    accuracy columns in view at 1440×900, no sideways scrolling) and a figure, the image table with
    thumbnails, and a row's map with its legend."""
    from eval_data import labelled_set

    from sinoloc.app.cli.main import main
    from sinoloc.app.web.runs import runs_router

    data = labelled_set(tmp_path / "data", scenes=1)
    assert main(["eval", "run", str(data), "--out", str(tmp_path / "runs" / "r1"), "--workers", "0"]) == 0
    page.set_viewport_size({"width": 1440, "height": 900})
    with running_server(tmp_path / "serve", routers=[runs_router(tmp_path / "runs")]) as (url, _):
        page.goto(url + "/")
        page.wait_for_selector("#runs-link:not([hidden])")
        page.goto(url + "/runs")
        page.click("#runs li")
        page.wait_for_selector("#report h1", timeout=120_000)
        assert "Eval report: r1" in page.inner_text("#report h1")
        assert page.locator("#report table").count() >= 3
        middle = page.locator("#middle").bounding_box()
        for table in page.locator("#report table").all():
            last = table.locator("tr").first.locator("th").last.bounding_box()
            assert last["x"] + last["width"] <= middle["x"] + middle["width"] + 1, (last, middle)
        assert page.evaluate("(m => m.scrollWidth <= m.clientWidth)(document.getElementById('middle'))")
        page.wait_for_function("document.querySelector('#report figure img')?.naturalWidth > 0")
        page.wait_for_function("document.querySelector('#images img.thumb')?.naturalWidth > 0")
        page.screenshot(path=str(tmp_path / "runs-report.png"))
        page.click("#images tr:has-text('shop')")
        page.wait_for_selector(".belief-district")
        assert page.locator(".map-legend").count() == 1
        # the narrow map's legend folds to its title: it covers neither the district nor the answer
        page.wait_for_selector(".answer-tip")
        page.wait_for_timeout(300)
        legend = page.locator(".map-legend").bounding_box()
        for label in (".map-label-district", ".answer-tip"):
            assert not _box_overlap(legend, page.locator(label).bounding_box()), label
        page.click(".map-legend .legend-title")
        assert "claimed district" in page.inner_text(".map-legend")
        assert "杭州市" in page.inner_text("#answer")
        page.screenshot(path=str(tmp_path / "runs.png"))
    assert page.blocked == [] and page.errors == []


def test_review_buttons_edit_add_a_clue_approve_and_keep_the_truth(page, tmp_path, monkeypatch):
    import json

    from imaging import unplaced_sign

    corrections = tmp_path / "corrections.jsonl"
    monkeypatch.setenv("SINOLOC_CORRECTIONS", str(corrections))
    note = "document.getElementById('review-note').textContent"
    with running_server(tmp_path) as (url, _):
        page.goto(url + "/")
        page.check("#review_on")
        drop_file(page, "shop.jpg", demo_image().read_bytes(), "image/jpeg")
        page.wait_for_selector("#review:not([hidden])", timeout=120_000)
        assert page.inner_text("#answer-place") == "浙江省杭州市西湖区"  # the proposal
        assert page.locator("#timeline li.review").count() == 1 and page.is_hidden("#truth")
        # an edit the evidence rules out comes back with the verifier's reasons
        page.fill("#review-place", "江苏省苏州市姑苏区")
        page.click("#review-edit button")
        page.wait_for_function(f"{note}.includes('did not pass verification')", timeout=120_000)
        assert "claim_not_ruled_out" in page.inner_text("#review-note")
        # a clue against stronger evidence: weighed, warned, the answer stays
        page.fill("#review-clue-text", "江苏省苏州市")
        page.click("#review-clue button")
        page.wait_for_function("document.querySelectorAll('#timeline li.review').length === 3",
                               timeout=120_000)
        assert "your clue E4" in page.inner_text(".warnings")
        assert page.inner_text("#answer-place") == "浙江省杭州市西湖区"
        page.click("#review-approve")
        page.wait_for_selector("#truth:not([hidden])", timeout=120_000)
        assert page.is_hidden("#review") and page.locator("path.claimed-district").count() >= 1
        # the true place, kept as a correction
        page.fill("#truth-place", "浙江省杭州市西湖区")
        page.click("#truth button")
        page.wait_for_function("document.getElementById('truth-kept').textContent.includes('kept')")
        kept = json.loads(corrections.read_text(encoding="utf-8").splitlines()[0])
        assert kept["truth_adcode"] == "330106" and kept["surface"] == "web"
        assert "杭州市西湖区文三路138号" in kept["texts"]
        # an edit the evidence allows is verified and committed
        sign = unplaced_sign(tmp_path / "noodles.jpg")
        drop_file(page, "noodles.jpg", sign.read_bytes(), "image/jpeg")
        page.wait_for_selector("#review:not([hidden])", timeout=120_000)
        page.fill("#review-place", "江苏省苏州市姑苏区")
        page.click("#review-edit button")
        page.wait_for_selector("#truth:not([hidden])", timeout=120_000)
        assert page.inner_text("#answer-place") == "江苏省苏州市姑苏区"
    assert page.blocked == [] and page.errors == []


def _console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def _box_overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def test_page_loads_without_console_errors_and_ask_waits_for_an_answer(page, tmp_path):
    """Without --runs the page asks /api/config (no 404 probe of /api/runs), hides the runs link,
    and the Ask box is off until there is an answer to ask about."""
    errors = _console_errors(page)
    with running_server(tmp_path) as (url, _):
        page.goto(url + "/")
        page.wait_for_selector(".map-label-base")
        page.wait_for_load_state("networkidle")
        assert page.is_hidden("#runs-link")
        assert page.is_disabled("#question") and page.is_disabled("#ask-button")
    assert errors == [] and page.blocked == [] and page.errors == []


def test_new_upload_and_refusal_clear_the_previous_answer(page, tmp_path):
    """Mid-run (the upload held by the test) nothing of the last image's answer, candidates or
    map stays and Ask is off; after a refused upload likewise; the threads list counts the
    question once its reply is in."""
    from imaging import unplaced_sign

    held = []
    with running_server(tmp_path) as (url, _):
        page.goto(url + "/")
        drop_file(page, "shop.jpg", demo_image().read_bytes(), "image/jpeg")
        page.wait_for_selector("#answer-place", timeout=120_000)
        page.wait_for_selector("path.claimed-district")
        assert page.is_enabled("#question") and page.locator("#candidates tr").count() > 1
        page.fill("#question", "why not 江苏?")
        page.click("#ask-button")
        page.wait_for_selector("#timeline li.reply", timeout=120_000)
        page.wait_for_function("document.getElementById('threads').textContent"
                               ".includes('1 question(s)')")
        # a second image: its upload is held until the page has been looked at
        page.route("**/api/locate/stream", lambda route: held.append(route))
        drop_file(page, "noodles.jpg", unplaced_sign(tmp_path / "noodles.jpg").read_bytes(),
                  "image/jpeg")
        page.wait_for_function("document.querySelectorAll('path.claimed-district').length === 0")
        assert held and "uploading" in page.inner_text("#status")
        assert page.inner_text("#answer") == "" and page.locator("#candidates").count() == 0
        assert page.locator(".answer-point, .candidate, .map-legend").count() == 0
        assert page.is_disabled("#question") and page.is_disabled("#ask-button")
        assert page.is_hidden("#truth")
        held[0].continue_()
        page.unroute("**/api/locate/stream")
        page.wait_for_selector("#answer-place", timeout=120_000)
        assert page.is_enabled("#question")
        # a refused upload: the error alone, no answer of the image before
        drop_file(page, "notes.jpg", b"not a photo at all " * 10, "image/jpeg")
        page.wait_for_selector("#error:not([hidden])")
        assert "not an image" in page.inner_text("#error")
        assert page.inner_text("#answer") == "" and page.locator("path.claimed-district").count() == 0
        assert page.is_disabled("#question") and page.is_disabled("#ask-button")
    assert page.blocked == [] and page.errors == []


@pytest.mark.parametrize("width", [1440, 800])
def test_legend_leaves_the_answer_label_free_and_the_page_fits(page, tmp_path, width):
    """At 1440×900 and 800×900: the legend covers neither the district's label nor the answer's
    tooltip and at most a sixth of the map; candidates have their legend row; the page does not
    overflow sideways. Screenshots land in the test's tmp dir."""
    page.set_viewport_size({"width": width, "height": 900})
    with running_server(tmp_path) as (url, _):
        page.goto(url + "/")
        drop_file(page, "shop.jpg", demo_image().read_bytes(), "image/jpeg")
        page.wait_for_selector(".map-label-district", timeout=120_000)
        page.wait_for_selector(".answer-tip")
        page.wait_for_timeout(300)  # the fit's zoom settles
        legend = page.locator(".map-legend").bounding_box()
        for label in (".map-label-district", ".answer-tip"):
            box = page.locator(label).bounding_box()
            assert not _box_overlap(legend, box), (label, legend, box)
        map_box = page.locator("#map").bounding_box()
        assert legend["width"] * legend["height"] <= map_box["width"] * map_box["height"] / 6
        assert "candidates" in page.inner_text(".map-legend")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(tmp_path / f"serve-{width}.png"), full_page=width < 1000)
    assert page.blocked == [] and page.errors == []

"""Attacks that need a browser, in Debian's headless Chromium (Playwright): a page on another
local port that tries to start runs on ``sinoloc serve`` (a multipart form, ``text/plain`` JSON,
with and without the server's token cookie in the browser), and the offline map file with
hostile text in a point evidence's text."""

from __future__ import annotations

import base64
import threading
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from browser import CHROMIUM
from web_server import running_server

from sinoloc.app.cli.common import demo_image

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
pytestmark = [
    pytest.mark.slow, pytest.mark.loopback,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

ATTACK = """<!doctype html><html><body>
<form id="f" method="POST" enctype="multipart/form-data" target="sink" action="%(target)s/api/locate">
  <input type="file" name="image" id="file">
</form>
<iframe name="sink" id="sink"></iframe>
<script>
(async () => {
  const bytes = Uint8Array.from(atob("%(image)s"), (c) => c.charCodeAt(0));
  const file = new File([bytes], "shop.jpg", { type: "image/jpeg" });
  const form = new FormData();
  form.append("image", file);
  const tries = [];
  // a multipart upload and a text/plain JSON body: "simple" requests, no CORS preflight
  tries.push(fetch("%(target)s/api/locate", { method: "POST", mode: "no-cors",
                                              credentials: "include", body: form }));
  tries.push(fetch("%(target)s/api/locate", { method: "POST", mode: "no-cors",
    credentials: "include", headers: { "Content-Type": "text/plain" },
    body: JSON.stringify({ image: "data:image/jpeg;base64,%(image)s" }) }));
  await Promise.allSettled(tries);
  // and a real form submission (navigates the iframe), the file set through a DataTransfer
  const dt = new DataTransfer();
  dt.items.add(file);
  document.getElementById("file").files = dt.files;
  const loaded = new Promise((r) => document.getElementById("sink").addEventListener("load", r));
  document.getElementById("f").submit();
  await loaded;
  window.attackDone = true;
})();
</script></body></html>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _attacker(folder: Path, target: str) -> tuple[HTTPServer, str]:
    """A page on another port of 127.0.0.1 that tries to start runs on ``target``."""
    image = base64.b64encode(demo_image().read_bytes()).decode()
    (folder / "attack.html").write_text(ATTACK % {"target": target, "image": image},
                                        encoding="utf-8")
    server = HTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/attack.html"


@pytest.mark.parametrize("token", [None, "s3cret-token"])
def test_a_page_on_another_port_cannot_start_runs(browser, tmp_path, token):
    site = tmp_path / "site"
    site.mkdir()
    with running_server(tmp_path / "serve", token=token) as (url, runner):
        attacker, page_url = _attacker(site, url)
        context = browser.new_context()
        try:
            page = context.new_page()
            if token:  # the person opened the server's URL: the browser holds its cookie
                page.goto(f"{url}/?token={token}")
                assert context.cookies()
            page.goto(page_url)
            page.wait_for_function("window.attackDone === true", timeout=60_000)
            # every request was answered before the page went on (a no-cors fetch settles on
            # the response; the form's frame loads with it): a run it started is on the list
            assert runner.store.threads() == []
            assert runner.running == 0 and runner.waiting == 0
        finally:
            context.close()
            attacker.shutdown()


def test_the_servers_own_page_still_uploads(browser, tmp_path):
    """The control: the same multipart fetch from the server's own page starts a run."""
    with running_server(tmp_path) as (url, runner):
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(url + "/")
            status = page.evaluate("""async (b64) => {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                const form = new FormData();
                form.append("image", new File([bytes], "shop.jpg", { type: "image/jpeg" }));
                return (await fetch("/api/locate", { method: "POST", body: form })).status;
            }""", base64.b64encode(demo_image().read_bytes()).decode())
            assert status == 200 and len(runner.store.threads()) == 1
        finally:
            context.close()


@pytest.mark.parametrize("text", ["<!--<script>", "<!--", "<script>alert(1)</script>",
                                  "</SCRIPT><!--<sCrIpT>", "a\u2028b & <b>x</b>"])
def test_hostile_evidence_text_leaves_the_offline_map_drawn(browser, tmp_path, text):
    from sinoloc.agent.api import Geolocator
    from sinoloc.app.web.mapview import write_map

    prediction = Geolocator(offline=True).locate(demo_image())
    evidence = [e.model_copy(update={"text": text}) if e.point is not None else e
                for e in prediction.evidence]
    if not any(e.point is not None for e in evidence):  # the demo answer cites no point: add one
        from sinoloc.tools.evidence import Evidence, EvidenceKind, PointSupport

        evidence.append(Evidence(id="E99", kind=EvidenceKind.POI, text=text, source="test",
                                 point=PointSupport(lat=prediction.lat, lon=prediction.lon,
                                                    radius_km=0.2), weight=0.5))
    hostile = prediction.model_copy(update={"evidence": evidence})
    path = write_map(hostile, tmp_path / "map.html")
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda d: (errors.append("dialog " + d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_selector(".map-legend", timeout=30_000)
        assert page.locator("path.belief-district").count() >= 1
        shown = page.evaluate("DATA.points.map((p) => p.text)")
        assert text in shown and errors == []
    finally:
        context.close()

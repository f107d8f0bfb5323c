"""Debian's headless Chromium for the browser tests, driven by Playwright (the system browser:
no download). Test modules import the ``browser`` fixture from here."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def drop_file(page, name: str, data: bytes, mime: str) -> None:
    """Drop a file on the drop zone as a person would (a DataTransfer on a drop event)."""
    page.evaluate("""([name, b64, mime]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], name, { type: mime }));
        const drop = new DragEvent("drop", { dataTransfer: dt, bubbles: true });
        document.getElementById("drop").dispatchEvent(drop);
    }""", [name, base64.b64encode(data).decode(), mime])


def _local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "file", "blob") or parsed.hostname == "127.0.0.1"


def guarded_page(browser, width: int, height: int):
    """(context, page) of a ``width``×``height`` window whose requests may reach 127.0.0.1,
    file:, data: and blob: only; the rest are aborted and listed in ``page.blocked``, and the
    page's script errors in ``page.errors``. Close the context when done."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.blocked, page.errors = [], []

    def guard(route):
        if _local(route.request.url):
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page.on("request", lambda r: None if _local(r.url) else page.blocked.append(r.url))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return context, page

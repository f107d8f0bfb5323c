"""Debian's headless Chromium for the browser tests, driven by Playwright (the system browser:
no download). Test modules import the ``browser`` fixture from here."""

from __future__ import annotations

import base64
from pathlib import Path

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

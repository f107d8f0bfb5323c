"""Fixtures the e2e tests share: the headless Chromium of the browser tests."""

from browser import browser  # noqa: F401 (a fixture: pytest finds it here)

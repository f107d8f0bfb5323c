"""Leaving while a first run's cache is still being built (chat's /quit right after start): the
exit waits for the model loads, never for the data loading that follows them."""

from __future__ import annotations

import threading

from sinoloc.app.cli import warmup


def test_exit_waits_for_model_loading_but_not_for_the_data_after_it(monkeypatch):
    monkeypatch.setattr(warmup, "_WARM_UPS", [])
    release, finished = threading.Event(), threading.Event()

    def models_then_a_long_build(loaded: threading.Event) -> None:
        loaded.set()  # the OCR models are loaded
        release.wait(120)  # the region index being built on a first run
        finished.set()

    loaded = threading.Event()
    warmup.start_thread(models_then_a_long_build, loaded, leave_after=loaded)
    plain = threading.Event()
    warmup.start_thread(plain.set)  # a read ahead: waited for to its end
    (build_thread, _), _ = warmup._WARM_UPS
    warmup.finish_warm_ups()
    assert plain.is_set() and loaded.is_set()
    assert build_thread.is_alive() and not finished.is_set()  # the exit did not wait for it
    release.set()
    build_thread.join(60)
    assert finished.is_set()

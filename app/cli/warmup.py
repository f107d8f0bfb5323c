"""Warm-ups: the OCR models, the visual prior and the offline data load on daemon threads while the
main thread imports the graph, and the one image of a run is read ahead; the process waits for
them before it exits (onnxruntime aborts when torn down in the middle of a session load)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path


def warm_up(ocr_backend: str, prior: str | None = None, text_data: bool = True,
            image: Path | None = None, models_loaded: threading.Event | None = None) -> None:
    """Load the OCR models, the visual prior and the offline data while the main thread imports
    the graph: model loading and inference release the GIL, so this overlaps for real.
    ``text_data``: also the data only some texts need, the phone geodata and the town tables
    (0.6 s of CPU: one image loads them only if its text calls for them, but a chat or a batch
    will likely meet such a text). ``image``: the one image of the run, whose default views are
    read for the graph's first OCR (:mod:`sinoloc.tools.ocr.speculative`) on a thread of their
    own, outside the GIL, while this one loads the offline data. ``models_loaded`` is set once
    no model is loading any more: what follows (the offline data, a first run's cache builds) may
    be left unfinished by a process that is done (chat's /quit)."""
    try:
        if prior:
            from sinoloc.tools.prior.inference import get_predictor

            get_predictor(prior)
    except Exception as exc:  # the tool reports it when it runs
        logging.getLogger(__name__).debug("prior warm-up failed: %s", exc)
    read_ahead = image is not None
    try:
        from sinoloc.tools.ocr import get_engine

        engine = get_engine(ocr_backend)
        warm = getattr(engine, "warm_up", None)
        if warm is not None:
            warm()
        if image is not None:
            start_thread(prefetch_ocr, image, engine)
            read_ahead = False  # handed over
        if models_loaded is not None:
            models_loaded.set()
        from sinoloc.tools.clues import extract_text_clues

        # knowledge files, region index, gazetteer and sign corpus (every text needs them)
        extract_text_clues("0571-88886666" if text_data else "")
        if not prior:  # the start of a run without a visual prior: where people live
            from sinoloc.tools.places.population import district_weights
            from sinoloc.tools.regions import get_region_index

            district_weights(get_region_index())
    except Exception as exc:
        logging.getLogger(__name__).debug("warm-up failed: %s", exc)
    finally:
        if models_loaded is not None:
            models_loaded.set()
        if read_ahead:  # the engine failed: the graph's OCR stops waiting for the read ahead
            from sinoloc.tools.ocr.speculative import abandon

            abandon()


def prefetch_ocr(image: Path, engine) -> None:
    """Read the image's default views ahead of the graph (:mod:`sinoloc.tools.ocr.speculative`)."""
    from sinoloc.tools.ocr.speculative import abandon

    try:
        from sinoloc.tools.ocr import prefetch_views

        prefetch_views(image, engine)
    except Exception as exc:  # an unreadable image: the run reports it
        logging.getLogger(__name__).debug("OCR prefetch failed: %s", exc)
    finally:
        abandon()  # after the read has started this changes nothing


_WARM_UPS: list[tuple[threading.Thread, threading.Event | None]] = []
WARM_UP_JOIN_S = 30.0


def start_warm_up(ocr_backend: str, prior: str | None = None, text_data: bool = True,
                  image: Path | None = None) -> None:
    """:func:`warm_up` on a daemon thread (the read ahead of ``image`` is planned first)."""
    if image is not None:  # before the thread starts: the graph's first OCR may not come first
        from sinoloc.tools.ocr.speculative import open_prefetch

        open_prefetch()
    loaded = threading.Event()
    start_thread(warm_up, ocr_backend, prior, text_data, image, loaded, leave_after=loaded)


def start_thread(target, *args, leave_after: threading.Event | None = None) -> None:
    """A daemon thread that :func:`finish_warm_ups` waits for (a warm-up may start another
    before it ends: the wait goes on until none is left), or, with ``leave_after``, waits for
    only until that event is set."""
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    _WARM_UPS.append((thread, leave_after))


def finish_warm_ups() -> None:
    """Let a warm-up still loading models finish before the process exits: onnxruntime aborts
    ("terminate called …") when its threads are torn down in the middle of a session load."""
    try:
        while _WARM_UPS:
            thread, leave_after = _WARM_UPS.pop()
            if leave_after is None:
                thread.join(WARM_UP_JOIN_S)
            else:  # models loaded: the data loading after them (a first run's cache build,
                leave_after.wait(WARM_UP_JOIN_S)  # written atomically) need not hold up an exit
    except KeyboardInterrupt:  # a second Ctrl-C: leave now
        pass

"""OCR over whole images, panorama views and crops, behind one engine interface."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from sinoloc.tools.ocr.base import OcrEngine, OcrSpan, OcrUnavailable, RawText
from sinoloc.tools.ocr.merge import merge_spans, text_key
from sinoloc.tools.ocr.seams import join_seams
from sinoloc.tools.ocr.speculative import prefetch, take
from sinoloc.tools.views import ViewSpec, default_views, render_view

__all__ = [
    "OcrEngine", "OcrSpan", "OcrUnavailable", "RawText", "get_engine", "merge_spans",
    "prefetch_views", "read_views", "text_key",
]
MIN_SCORE = 0.5  # lines read with a lower score are dropped


_ENGINE_LOCK = threading.Lock()


def get_engine(backend: str = "rapidocr") -> OcrEngine:
    """The process-wide engine for a backend name (``rapidocr`` or ``paddleocr``); safe to call
    from a warm-up thread and the graph at once (one engine is built)."""
    with _ENGINE_LOCK:
        return _make_engine(backend)


@lru_cache(maxsize=4)
def _make_engine(backend: str) -> OcrEngine:
    if backend == "rapidocr":
        from sinoloc.tools.ocr.rapid import RapidOcrEngine

        return RapidOcrEngine()
    if backend == "paddleocr":
        from sinoloc.tools.ocr.paddle import PaddleOcrEngine

        return PaddleOcrEngine(os.environ.get("SINOLOC_PADDLE_DET_DIR"),
                               os.environ.get("SINOLOC_PADDLE_REC_DIR"))
    raise OcrUnavailable(f"unknown OCR backend {backend!r}: use rapidocr or paddleocr")


def _box_height(box: list[tuple[float, float]]) -> float:
    if len(box) < 4:
        return 0.0
    ys = [y for _, y in box]
    return float(max(ys) - min(ys))


def read_views(image: Image.Image, views: list[ViewSpec], engine: OcrEngine,
               min_score: float = MIN_SCORE) -> list[OcrSpan]:
    """OCR each view of ``image`` (rendered from a panorama, or the image itself) and merge."""
    prefetched = take(image, views, engine, min_score)
    if prefetched is not None:
        return prefetched
    return _read_views(image, views, engine, min_score)


def prefetch_views(path: str | Path, engine: OcrEngine) -> bool:
    """Read the default views of the image at ``path`` now, for the graph's first OCR to take
    (see :mod:`sinoloc.tools.ocr.speculative`; the CLI's warm-up thread calls this)."""
    from sinoloc.tools.images import load_image

    loaded = load_image(path)
    views = default_views(loaded.meta.is_panorama, loaded.image.width)
    return prefetch(loaded.image, views, engine, MIN_SCORE, _read_views)


def _read_views(image: Image.Image, views: list[ViewSpec], engine: OcrEngine,
                min_score: float) -> list[OcrSpan]:
    spans: list[OcrSpan] = []
    for view in views:
        rendered = render_view(image, view) if view.heading is not None else image
        for raw in engine.recognize(np.asarray(rendered)):
            if raw.score < min_score or not raw.text.strip():
                continue
            spans.append(OcrSpan(span_id="", text=raw.text.strip(), score=raw.score,
                                 view_id=view.view_id, heading=view.heading, box=raw.box,
                                 height_px=_box_height(raw.box)))
    return merge_spans(join_seams(spans, views))

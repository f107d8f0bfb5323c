"""OCR over whole images, panorama views and crops, behind one engine interface."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np
from PIL import Image

from sinoloc.tools.ocr.base import OcrEngine, OcrSpan, OcrUnavailable, RawText
from sinoloc.tools.ocr.merge import merge_spans, text_key
from sinoloc.tools.views import ViewSpec, render_view

__all__ = [
    "OcrEngine", "OcrSpan", "OcrUnavailable", "RawText", "get_engine", "merge_spans",
    "read_views", "text_key",
]


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
               min_score: float = 0.5) -> list[OcrSpan]:
    """OCR each view of ``image`` (rendered from a panorama, or the image itself) and merge."""
    spans: list[OcrSpan] = []
    for view in views:
        rendered = render_view(image, view) if view.heading is not None else image
        for raw in engine.recognize(np.asarray(rendered)):
            if raw.score < min_score or not raw.text.strip():
                continue
            spans.append(OcrSpan(span_id="", text=raw.text.strip(), score=raw.score,
                                 view_id=view.view_id, heading=view.heading, box=raw.box,
                                 height_px=_box_height(raw.box)))
    return merge_spans(spans)

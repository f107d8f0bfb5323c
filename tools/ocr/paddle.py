"""PaddleOCR 3.x backend (optional extra ``sinoloc[paddle]``) using local model directories.

PaddleOCR cannot download its models here, so the detection and recognition model dirs come
from configuration (``SINOLOC_PADDLE_DET_DIR`` / ``SINOLOC_PADDLE_REC_DIR`` or settings).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sinoloc.tools.ocr.base import LazyEngine, OcrUnavailable, RawText


class PaddleOcrEngine(LazyEngine):
    name = "paddleocr"

    def __init__(self, det_model_dir: str | Path | None, rec_model_dir: str | Path | None):
        missing = [str(p) for p in (det_model_dir, rec_model_dir) if not p or not Path(p).is_dir()]
        if missing:
            raise OcrUnavailable(
                "PaddleOCR needs local model directories (det and rec); not found: "
                + ", ".join(missing or ["<unset>"]))
        super().__init__()
        self._det, self._rec = str(det_model_dir), str(rec_model_dir)

    def _create(self):
        try:
            from paddleocr import PaddleOCR
        except ImportError as exc:
            raise OcrUnavailable(
                "paddleocr is not installed: pip install '.[paddle]' in the sinoloc clone") from exc
        return PaddleOCR(
            text_detection_model_dir=self._det,
            text_recognition_model_dir=self._rec,
            use_doc_orientation_classify=False,
            use_doc_unwarping=False,
            use_textline_orientation=False,
        )

    def recognize(self, rgb: np.ndarray) -> list[RawText]:
        results = self._get().predict(np.ascontiguousarray(rgb[:, :, ::-1]))
        out: list[RawText] = []
        for page in results or ():
            texts = page["rec_texts"]
            scores = page["rec_scores"]
            polys = page["rec_polys"]
            for text, score, poly in zip(texts, scores, polys, strict=False):
                corners = [(float(x), float(y)) for x, y in np.asarray(poly).reshape(-1, 2)]
                out.append(RawText(text=str(text), score=float(score), box=corners))
        return out

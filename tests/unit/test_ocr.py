import sys
import types

import numpy as np
import pytest

from sinoloc.tools.ocr import OcrSpan, OcrUnavailable, merge_spans
from sinoloc.tools.ocr.paddle import PaddleOcrEngine


def span(text, view, score=0.9, heading=None):
    return OcrSpan(span_id="", text=text, score=score, view_id=view, heading=heading,
                   box=[(0, 0), (10, 0), (10, 5), (0, 5)])


def test_merge_keeps_longest_reading_and_lists_other_views():
    merged = merge_spans([
        span("杭州市西湖区", "h000", 0.8, 0), span("杭州市 西湖区文三路", "h090", 0.95, 90),
        span("西湖区", "h090", 0.99, 90), span("电话", "h000", 0.7, 0),
    ])
    texts = [s.text for s in merged]
    assert "杭州市 西湖区文三路" in texts and "杭州市西湖区" not in texts and "西湖区" not in texts
    longest = next(s for s in merged if s.text == "杭州市 西湖区文三路")
    assert longest.also_in == ["h000"]
    assert [s.span_id for s in merged] == [f"T{i + 1}" for i in range(len(merged))]


class FakePaddleOCR:
    """Mimics paddleocr 3.x: predict() returns result pages with rec_texts/scores/polys."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def predict(self, image):
        assert image.ndim == 3
        return [{"rec_texts": ["浙A·12345"], "rec_scores": [0.97],
                 "rec_polys": [np.array([[1, 2], [50, 2], [50, 20], [1, 20]])]}]


def test_paddle_adapter_with_fake_engine(tmp_path, monkeypatch):
    det, rec = tmp_path / "det", tmp_path / "rec"
    det.mkdir()
    rec.mkdir()
    monkeypatch.setitem(sys.modules, "paddleocr", types.SimpleNamespace(PaddleOCR=FakePaddleOCR))
    engine = PaddleOcrEngine(det, rec)
    out = engine.recognize(np.zeros((40, 80, 3), dtype=np.uint8))
    assert out[0].text == "浙A·12345" and out[0].score == pytest.approx(0.97)
    assert out[0].box[2] == (50.0, 20.0)
    assert engine._get().kwargs["text_detection_model_dir"] == str(det)


def test_paddle_adapter_needs_model_dirs(tmp_path):
    with pytest.raises(OcrUnavailable, match="model directories"):
        PaddleOcrEngine(tmp_path / "missing", None)

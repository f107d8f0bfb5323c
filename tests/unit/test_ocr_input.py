"""The OCR detector's input built from a byte table is RapidOCR's own input, value for value."""

from __future__ import annotations

import numpy as np
import pytest

utils = pytest.importorskip("rapidocr.ch_ppocr_det.utils")


def test_the_table_gives_rapidocrs_own_detector_input():
    from sinoloc.tools.ocr.rapid import _tune_rapidocr

    _tune_rapidocr()
    patched = utils.DetPreProcess.__dict__["__call__"]
    assert getattr(patched, "_sinoloc_table", False)
    rng = np.random.default_rng(0)
    for limit_type, side, shape in [("max", 960, (576, 960, 3)), ("max", 960, (1024, 2048, 3)),
                                    ("min", 736, (410, 480, 3)), ("max", 960, (33, 47, 3))]:
        pre = utils.DetPreProcess(limit_side_len=side, limit_type=limit_type)
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        want = _reference(pre, img)
        got = patched(pre, img)
        assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))  # bit for bit


def _reference(pre, img):
    """RapidOCR's DetPreProcess.__call__ as shipped (resize, normalize, permute, cast)."""
    resized = pre.resize(img)
    out = pre.permute(pre.normalize(resized))
    return np.expand_dims(out, axis=0).astype(np.float32)

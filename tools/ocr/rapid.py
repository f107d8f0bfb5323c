"""RapidOCR backend: PP-OCRv6 ONNX models shipped in the rapidocr wheel, fully offline."""

from __future__ import annotations

import functools
import inspect
import logging

import numpy as np

from sinoloc.tools.ocr.base import LazyEngine, OcrUnavailable, RawText

log = logging.getLogger(__name__)


class RapidOcrEngine(LazyEngine):
    """``Det.limit_type=max`` with a ~960 px side: about twice as fast as the default (which
    upscales small images) and the same text on street signs."""

    name = "rapidocr"

    def __init__(self, det_side: int = 960, text_score: float = 0.5):
        super().__init__()
        self._params = {
            "Det.limit_type": "max",
            "Det.limit_side_len": det_side,
            "Global.text_score": text_score,
            "Global.log_level": "error",
            # views are rendered upright; the 180° text classifier only costs time here
            "Global.use_cls": False,
        }

    def _create(self):
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:  # pragma: no cover - rapidocr is a core dependency
            raise OcrUnavailable(f"rapidocr is not installed: {exc}") from exc
        _tune_rapidocr()
        return RapidOCR(params=self._params)

    def warm_up(self) -> None:
        """Load the detection and the recognition model now (~0.7 s, most of it outside the GIL).
        RapidOCR loads each on first need, the recognizer only once text is found: a blank
        image would leave it to the first image with text."""
        engine = self._get()
        found = [getattr(engine, name, None) for name in ("_load_det_model", "_load_rec_model")]
        loaders = [load for load in found if callable(load)]
        if len(loaders) == len(found):
            for load in loaders:
                load()  # RapidOCR's own loaders, each under its lock: safe beside a recognize()
        else:  # a RapidOCR without them: at least the detector, through a blank image
            self.recognize(np.full((64, 256, 3), 255, dtype=np.uint8))

    def recognize(self, rgb: np.ndarray) -> list[RawText]:
        engine = self._get()
        result = engine(np.ascontiguousarray(rgb[:, :, ::-1]))  # RapidOCR expects BGR
        texts = result.txts or ()
        scores = result.scores or ()
        boxes = result.boxes if result.boxes is not None else [None] * len(texts)
        out = []
        for text, score, box in zip(texts, scores, boxes, strict=False):
            corners = [(float(x), float(y)) for x, y in box] if box is not None else []
            out.append(RawText(text=str(text), score=float(score), box=corners))
        return out


SPIN_ENTRY = "session.intra_op.allow_spinning"


@functools.cache
def _tune_rapidocr() -> None:
    """Two settings RapidOCR does not offer, each changing how fast it loads or runs and never
    what it reads: applied once per process, before its first engine."""
    _without_spinning()
    _checksums_in_big_reads()
    _detector_input_by_table()


def _without_spinning() -> None:
    """Sessions whose idle worker threads sleep instead of spinning (onnxruntime's default is to
    spin between operators). On a machine with few cores, shared with other work or with the
    CLI's import thread, the spinning takes the cores the work needs: a panorama's four views
    took 0.7 s of wall and CPU with it and 0.33 s without on a loaded 2-core machine, the spans
    byte-identical (issue 21's cold-start note). RapidOCR builds the session options itself
    and has no setting for this, so its builder is wrapped; a RapidOCR without that builder is
    left as it is."""
    try:
        from rapidocr.inference_engine.onnxruntime.main import OrtInferSession
    except ImportError:  # another layout: the default threads
        return
    build = OrtInferSession.__dict__.get("_init_sess_opts")
    if not isinstance(build, staticmethod):
        return
    options_for = build.__func__

    def init_sess_opts(cfg):
        options = options_for(cfg)
        options.add_session_config_entry(SPIN_ENTRY, "0")
        return options

    # a class attribute replaced on purpose (mypy sees a method assignment)
    setattr(OrtInferSession, "_init_sess_opts", staticmethod(init_sess_opts))  # noqa: B010


CHECKSUM_CHUNK = 1 << 24  # bytes per read when RapidOCR checks a model file's SHA-256


def _checksums_in_big_reads() -> None:
    """RapidOCR checks each model file's SHA-256 before loading it, in 64 kB reads: each read
    gives up the GIL and must win it back, and beside the CLI's import thread the 480 round trips
    of the two models took 0.6 s (the hashing itself 0.05 s). The same function with 16 MB
    reads gives the same digest in a handful of round trips. A RapidOCR without that function
    (or its ``chunk_size``) is left as it is."""
    try:
        from rapidocr.utils import download_file
    except ImportError:
        return
    digest = getattr(download_file, "get_file_sha256", None)
    if not callable(digest) or "chunk_size" not in inspect.signature(digest).parameters:
        return
    download_file.get_file_sha256 = functools.partial(digest, chunk_size=CHECKSUM_CHUNK)


def _detector_input_by_table() -> None:
    """The detector's input from a table of the 256 byte values per channel. RapidOCR
    normalises each view as ``(img.astype(float32) * scale - mean) / std`` in float64, then
    transposes and casts to float32: four passes over a 960×576×3 image, ~13 ms a view and a
    seventh of a batch's CPU. Each output value depends only on its byte and channel, so the
    same formula applied once to the 256 values gives a table whose lookup is the same float32
    tensor, value for value (tests/unit/test_ocr_input.py compares them). Anything but a
    uint8 colour image goes the original way; a RapidOCR without ``DetPreProcess`` is left as
    it is."""
    try:
        from rapidocr.ch_ppocr_det.utils import DetPreProcess
    except ImportError:
        return
    original = DetPreProcess.__dict__.get("__call__")
    if original is None or getattr(original, "_sinoloc_table", False):
        return

    def call(self, img: np.ndarray):
        resized = self.resize(img)
        if resized is None or resized.dtype != np.uint8 or resized.ndim != 3 \
                or resized.shape[2] != 3:
            return original(self, img)
        table = getattr(self, "_sinoloc_table", None)
        if table is None:
            values = np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2)
            table = np.ascontiguousarray(self.normalize(values)[:, 0, :].T.astype(np.float32))
            self._sinoloc_table = table  # (3, 256): channel, byte value
        out = np.empty((1, 3, *resized.shape[:2]), dtype=np.float32)
        for channel in range(3):
            np.take(table[channel], resized[:, :, channel], out=out[0, channel])
        return out

    call._sinoloc_table = True  # type: ignore[attr-defined]
    # a class attribute replaced on purpose (mypy sees a method assignment)
    setattr(DetPreProcess, "__call__", call)  # noqa: B010

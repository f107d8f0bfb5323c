"""Speculative OCR for a cold start: the one image a ``sinoloc locate`` run will read is read in
the warm-up thread while the main thread still imports the graph (onnxruntime runs outside the
GIL, the imports inside it), and the graph's first :func:`~sinoloc.tools.ocr.read_views` of
exactly those pixels, views, engine and threshold takes the spans instead of reading again.

An entry is found by its pixels (the same decoded image object, which the image cache hands to
both threads, or else equal bytes), not by a path, so a read that differs in anything reads
afresh and the answer cannot change. The first lookup closes the door: entries are taken once,
and a prefetch that has not started by then is skipped rather than left to compete with the run
for the CPU (once planned, the first lookup waits for it to start: see :func:`open_prefetch`).
Nothing is kept unless :func:`open_prefetch` was called, so library use and batches never wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from sinoloc.tools.ocr.base import OcrEngine, OcrSpan
from sinoloc.tools.views import ViewSpec

Reader = Callable[[Image.Image, list[ViewSpec], OcrEngine, float], list[OcrSpan]]
Key = tuple[str, str, tuple[int, int], tuple[str, ...], float]


@dataclass
class _Entry:
    key: Key
    image: Image.Image
    done: threading.Event = field(default_factory=threading.Event)
    spans: list[OcrSpan] | None = None  # None: the read failed (the graph reads again)

    def matches(self, key: Key, image: Image.Image) -> bool:
        return key == self.key and (image is self.image or image.tobytes() == self.image.tobytes())


_LOCK = threading.Lock()
_ENTRIES: list[_Entry] = []
_OPEN = False
_SETTLED = threading.Event()  # the planned read has started, or will not come
SETTLE_WAIT_S = 60.0  # a lookup waits this long at most for the planned read to start


def _key(image: Image.Image, views: list[ViewSpec], engine: OcrEngine, min_score: float) -> Key:
    return (engine.name, image.mode, image.size, tuple(view.model_dump_json() for view in views),
            min_score)


def open_prefetch() -> None:
    """Plan one read ahead (the CLI calls this before it starts its warm-up thread): until it
    starts or is abandoned, the first lookup waits for it rather than reading the same views at
    the same time (it would wait for the same models to load anyway)."""
    global _OPEN
    with _LOCK:
        _ENTRIES.clear()
        _SETTLED.clear()
        _OPEN = True


def abandon() -> None:
    """The planned read will not start (its image or engine failed): lookups stop waiting."""
    _SETTLED.set()


def prefetch(image: Image.Image, views: list[ViewSpec], engine: OcrEngine, min_score: float,
             read: Reader) -> bool:
    """``read(image, views, engine, min_score)`` now, kept for the first matching lookup; False
    (nothing read) once a lookup has closed the door or when it was never opened."""
    if not _OPEN:
        return False
    key = _key(image, views, engine, min_score)
    with _LOCK:
        if not _OPEN:
            return False
        entry = _Entry(key, image)
        _ENTRIES.append(entry)
        _SETTLED.set()
    try:
        entry.spans = read(image, views, engine, min_score)
    finally:
        entry.done.set()  # on failure too: the lookup waiting for it reads for itself
    return True


def take(image: Image.Image, views: list[ViewSpec], engine: OcrEngine,
         min_score: float) -> list[OcrSpan] | None:
    """The spans read ahead for exactly this read (waiting for a planned read to start and for
    a read in progress), or None. Closes the door: later prefetches are skipped and every entry
    is dropped."""
    global _OPEN
    if not _OPEN and not _ENTRIES:
        return None
    _SETTLED.wait(SETTLE_WAIT_S)
    with _LOCK:
        _OPEN = False
        entries = list(_ENTRIES)
        _ENTRIES.clear()
    key = _key(image, views, engine, min_score)
    for entry in entries:
        if entry.matches(key, image):
            entry.done.wait()
            return None if entry.spans is None else [s.model_copy(deep=True) for s in entry.spans]
    return None

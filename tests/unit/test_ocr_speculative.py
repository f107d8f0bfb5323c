"""Cold start (issue 21): the speculative OCR of a single-image run is taken only for exactly the
read it was made for, once, and never changes what the graph reads; data only some texts need
(the phone geodata) loads only when a text needs it."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from sinoloc.tools.ocr import RawText, read_views, speculative
from sinoloc.tools.views import WHOLE_IMAGE


class CountingEngine:
    """Reads one line per call: the mean pixel value, so different pixels read differently."""

    name = "counting"

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls = 0
        self.gate = gate

    def recognize(self, rgb: np.ndarray) -> list[RawText]:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls += 1
        return [RawText(text=f"mean {rgb.mean():.1f}", score=0.9,
                        box=[(0, 0), (10, 0), (10, 5), (0, 5)])]


def _image(value: int) -> Image.Image:
    return Image.new("RGB", (64, 32), (value, value, value))


@pytest.fixture(autouse=True)
def closed_door():
    speculative.take(_image(0), [WHOLE_IMAGE], CountingEngine(), 0.5)  # closes it, drops entries
    yield
    speculative.take(_image(0), [WHOLE_IMAGE], CountingEngine(), 0.5)


def _prefetch(image: Image.Image, engine: CountingEngine, min_score: float = 0.5) -> bool:
    from sinoloc.tools.ocr import _read_views

    return speculative.prefetch(image, [WHOLE_IMAGE], engine, min_score, _read_views)


def test_without_open_nothing_is_read_ahead():
    engine = CountingEngine()
    assert _prefetch(_image(10), engine) is False and engine.calls == 0
    assert [s.text for s in read_views(_image(10), [WHOLE_IMAGE], engine)] == ["mean 10.0"]
    assert engine.calls == 1


def test_the_first_matching_read_takes_the_spans_once():
    engine, image = CountingEngine(), _image(10)
    direct = read_views(image, [WHOLE_IMAGE], CountingEngine())
    speculative.open_prefetch()
    assert _prefetch(image, engine) is True and engine.calls == 1
    taken = read_views(image, [WHOLE_IMAGE], engine)
    assert taken == direct and engine.calls == 1  # no second read
    assert read_views(image, [WHOLE_IMAGE], engine) == direct and engine.calls == 2  # taken once
    assert _prefetch(image, engine) is False  # the first lookup closed the door


def test_equal_pixels_in_another_object_match():
    engine = CountingEngine()
    speculative.open_prefetch()
    _prefetch(_image(10), engine)
    assert [s.text for s in read_views(_image(10), [WHOLE_IMAGE], engine)] == ["mean 10.0"]
    assert engine.calls == 1


@pytest.mark.parametrize("other", ["pixels", "views", "min_score"])
def test_a_read_that_differs_reads_afresh(other):
    engine = CountingEngine()
    speculative.open_prefetch()
    _prefetch(_image(10), engine)
    image = _image(20) if other == "pixels" else _image(10)
    views = [WHOLE_IMAGE.model_copy(update={"view_id": "other"})] if other == "views" \
        else [WHOLE_IMAGE]
    min_score = 0.8 if other == "min_score" else 0.5
    spans = read_views(image, views, engine, min_score)
    assert [s.text for s in spans] == [f"mean {image.getpixel((0, 0))[0]:.1f}"]
    assert engine.calls == 2


def test_a_read_in_progress_is_waited_for_not_repeated():
    gate = threading.Event()
    engine, image = CountingEngine(gate), _image(10)
    speculative.open_prefetch()
    worker = threading.Thread(target=_prefetch, args=(image, engine))
    worker.start()
    while not speculative._ENTRIES:  # registered, still reading
        threading.Event().wait(0.001)
    threading.Timer(0.05, gate.set).start()
    assert [s.text for s in read_views(image, [WHOLE_IMAGE], engine)] == ["mean 10.0"]
    worker.join(5)
    assert engine.calls == 1


def test_a_failed_read_ahead_leaves_the_read_to_the_graph():
    class Broken(CountingEngine):
        def recognize(self, rgb):
            raise RuntimeError("model went away")

    speculative.open_prefetch()
    with pytest.raises(RuntimeError):
        _prefetch(_image(10), Broken())
    engine = CountingEngine()
    assert [s.text for s in read_views(_image(10), [WHOLE_IMAGE], engine)] == ["mean 10.0"]
    assert engine.calls == 1


def test_phone_geodata_loads_only_for_a_phone_number():
    code = ("import sys\n"
            "from sinoloc.tools.clues import extract_text_clues\n"
            "extract_text_clues('TEL杭州市西湖区文三路138号')\n"
            "print('phonenumbers.geocoder' in sys.modules)\n"
            "extract_text_clues('电话 0571-88886666')\n"
            "print('phonenumbers.geocoder' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_a_planned_read_is_waited_for_until_it_starts_or_is_abandoned():
    engine, image = CountingEngine(), _image(10)
    speculative.open_prefetch()
    threading.Timer(0.05, _prefetch, args=(image, engine)).start()  # starts after the lookup
    assert [s.text for s in read_views(image, [WHOLE_IMAGE], engine)] == ["mean 10.0"]
    assert engine.calls == 1  # the lookup waited for the planned read instead of reading too
    speculative.open_prefetch()
    threading.Timer(0.05, speculative.abandon).start()
    assert [s.text for s in read_views(image, [WHOLE_IMAGE], engine)] == ["mean 10.0"]
    assert engine.calls == 2

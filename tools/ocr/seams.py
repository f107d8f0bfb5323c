"""Lines cut by the seam between two panorama views, read back whole.

A sign wider than the overlap of two neighbouring views is read as two broken spans, one at the
right edge of a view and one at the left edge of the next ("邮编：7" + "：744375", "北部湾银" +
"3湾银行"). Where two such spans lie on one line (the same elevation and letter height) and meet
or overlap in panorama longitude, they are one reading: their texts are joined where they
overlap (a character the edge cut and the engine misread is dropped), and the pair becomes one
span. A cut reading whose text (less the cut character) another view read whole is dropped, so
the merge that follows keeps one reading of each line. Works on angles, not pixels, so it
holds for any set of views of one panorama.
"""

from __future__ import annotations

from dataclasses import dataclass

from sinoloc.tools.ocr.base import OcrSpan
from sinoloc.tools.views import ViewSpec, view_angles

EDGE = 0.03  # of the view's width: a box this close to a side was cut by it ...
EDGE_LETTERS = 1.2  # ... or this many letter heights (the cut letter may not be read at all)
SAME_LINE = 0.5  # elevation difference allowed, in letter heights
HEIGHT_RATIO = 1.6  # letter heights of one line read in two views differ by at most this factor
OVERLAP_SLACK = 1.5  # characters: a text overlap may differ this much from the angular one
ABUT = 0.3  # characters: readings sharing less than this abut (joined as they are)


@dataclass(frozen=True)
class _Geo:
    lon0: float  # left end, degrees (unwrapped so that lon1 > lon0)
    lon1: float
    lat: float  # centre elevation, degrees
    height: float  # letter height, degrees
    cut_left: bool
    cut_right: bool

    @property
    def width(self) -> float:
        return self.lon1 - self.lon0


def _geometry(span: OcrSpan, spec: ViewSpec) -> _Geo | None:
    if spec.heading is None or len(span.box) < 4 or not spec.width:
        return None
    xs, ys = [p[0] for p in span.box], [p[1] for p in span.box]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    ym, xm = (y0 + y1) / 2, (x0 + x1) / 2
    lon0, _ = view_angles(spec, x0, ym)
    lon1, _ = view_angles(spec, x1, ym)
    if lon1 < lon0:
        lon1 += 360.0
    _, top = view_angles(spec, xm, y0)
    _, bottom = view_angles(spec, xm, y1)
    edge = max(EDGE * spec.width, EDGE_LETTERS * (y1 - y0))
    return _Geo(lon0, lon1, (top + bottom) / 2, abs(top - bottom),
                x0 <= edge, x1 >= spec.width - 1 - edge)


def _offset(lon: float, ref: float) -> float:
    """``lon`` relative to ``ref`` in (-180, 180]."""
    return (lon - ref + 180.0) % 360.0 - 180.0


def _same_line(a: _Geo, b: _Geo) -> bool:
    h = max(a.height, b.height, 1e-6)
    ratio = max(a.height, b.height) / max(min(a.height, b.height), 1e-6)
    return abs(a.lat - b.lat) <= SAME_LINE * h and ratio <= HEIGHT_RATIO


def join_text(left: str, right: str, shared: float) -> str | None:
    """``left`` and ``right`` read as one line whose readings overlap by about ``shared``
    characters: the join at the longest text overlap near that (dropping at most one cut
    character at either end), plain concatenation where almost nothing is shared, else None."""
    left, right = left.rstrip(), right.lstrip()
    best: tuple[float, str] | None = None
    for drop_l in (0, 1):
        a = left[:len(left) - drop_l]
        for drop_r in (0, 1):
            b = right[drop_r:]
            for k in range(min(len(a), len(b)), 0, -1):
                if a[-k:] != b[:k] or abs(k - shared) > OVERLAP_SLACK:
                    continue
                merit = k - 0.5 * (drop_l + drop_r)  # the longest overlap, the fewest drops
                if best is None or merit > best[0]:
                    best = (merit, a + b[k:])
                break
    if best is not None:
        return best[1]
    # abutting readings: only where the views share less than a third of a letter of this line
    # (more, and the cut letter was read twice, maybe differently: 沙 | 少家埭村 is not 沙少家埭村)
    return left + right if shared < ABUT else None


def _joined(left: OcrSpan, right: OcrSpan, gl: _Geo, gr: _Geo) -> OcrSpan | None:
    """One span for ``left`` and ``right`` if they are one line cut at a seam, else None."""
    if not (gl.cut_right and gr.cut_left and _same_line(gl, gr)):
        return None
    start = _offset(gr.lon0, gl.lon1)  # where right begins, relative to where left ends
    char = gl.width / max(len(left.text.strip()), 1)
    if not (-gr.width < start <= char) or start + gr.width <= 0:
        return None
    text = join_text(left.text, right.text, max(0.0, -start) / max(char, 1e-6))
    if text is None:
        return None
    xs, ys = [p[0] for p in left.box], [p[1] for p in left.box]
    x0, y0, y1 = min(xs), min(ys), max(ys)
    x1 = x0 + (max(xs) - x0) * len(text) / max(len(left.text.strip()), 1)
    also = [v for v in [right.view_id, *left.also_in, *right.also_in] if v != left.view_id]
    return left.model_copy(update={
        "text": text, "score": min(left.score, right.score),
        "box": [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], "also_in": list(dict.fromkeys(also))})


def _read_whole_elsewhere(cut: OcrSpan, gc: _Geo, others: list[tuple[OcrSpan, _Geo]]) -> bool:
    """A reading cut at a view edge whose text, less the cut character, another view read on the
    same line over the same longitudes."""
    text = cut.text.strip()
    trimmed = [text[1:] if gc.cut_left else text, text[:-1] if gc.cut_right else text]
    for other, go in others:
        if other.view_id == cut.view_id or len(other.text) <= len(text) - 1:
            continue
        start = gc.lon0 + _offset(go.lon0, gc.lon0)
        if min(gc.lon1, start + go.width) - max(gc.lon0, start) < 0.5 * gc.width or not _same_line(gc, go):
            continue
        if any(t and t in other.text for t in trimmed):
            return True
    return False


def _merged_geo(ga: _Geo, gb: _Geo) -> _Geo:
    """The geometry of ``ga`` joined on its right by ``gb``."""
    return _Geo(ga.lon0, ga.lon0 + ga.width + _offset(gb.lon0, ga.lon1) + gb.width,
                ga.lat, max(ga.height, gb.height), ga.cut_left, gb.cut_right)


_Item = tuple[OcrSpan, _Geo | None]


def _join_first(items: list[_Item]) -> tuple[list[_Item], list[OcrSpan]] | None:
    """``items`` with their first pair that is one line cut at a seam replaced by the joined
    span (appended last), and that pair; None where no pair joins."""
    for i, (a, ga) in enumerate(items):
        for j, (b, gb) in enumerate(items):
            if i == j or ga is None or gb is None or a.view_id == b.view_id:
                continue
            joined = _joined(a, b, ga, gb)
            if joined is None:
                continue
            rest = [it for k, it in enumerate(items) if k not in (i, j)]
            return [*rest, (joined, _merged_geo(ga, gb))], [a, b]
    return None


def _cut_and_read_whole(span: OcrSpan, geo: _Geo | None, read: list[tuple[OcrSpan, _Geo]]) -> bool:
    """Whether ``span`` is a reading cut at a view edge that another view read whole."""
    return geo is not None and (geo.cut_left or geo.cut_right) and _read_whole_elsewhere(span, geo, read)


def join_seams(spans: list[OcrSpan], views: list[ViewSpec]) -> list[OcrSpan]:
    """``spans`` read in ``views`` of one panorama, with each line cut by a seam added as one
    joined span, and cut readings another view read whole dropped. The halves stay (the merge
    that follows drops those the joined text holds), so a wrong join (a reading that only seemed
    cut, beside a fragment) never costs the reading itself. Spans of whole-image views pass as
    they are."""
    specs = {v.view_id: v for v in views}
    items: list[_Item] = [
        (s, _geometry(s, specs[s.view_id]) if s.view_id in specs else None) for s in spans]
    originals = list(items)
    halves: list[OcrSpan] = []
    while (step := _join_first(items)) is not None:
        items, pair = step
        halves += pair
    read = [(s, g) for s, g in originals if g is not None]  # a join proves no whole reading
    kept = [s for s, g in items if not _cut_and_read_whole(s, g, read)]
    return kept + _halves_left(halves, kept, originals, read)


def _halves_left(halves: list[OcrSpan], kept: list[OcrSpan], originals: list[_Item],
                 read: list[tuple[OcrSpan, _Geo]]) -> list[OcrSpan]:
    """The halves of joins not kept already, less those cut readings another view read whole."""
    return [h for h in halves if h not in kept and not any(
        h is s and _cut_and_read_whole(s, g, read) for s, g in originals)]

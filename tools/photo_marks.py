"""Evidence on the photo: every OCR line as a mark where it was read, with what it became.

A line became **evidence** when one or more evidence items rest on it (their ``span_id`` or
``also_span_ids``, or a POI query read from it that a geocoder answered), **flagged** when the
injection detector marks it as (part of) an instruction to a model
(:func:`~sinoloc.tools.injection.flag_instructions`, the same judgement the OCR and clue tools
make), and **ignored** otherwise: read, and not locating (a dish name, a watermark, a slogan, a
stray character), with the reason the clue reader gave when it gave one. Flagged wins over the
rest: no clue is read from a flagged line.

Marks are bounded (:data:`MAX_MARKS` lines, a few polygons of rounded points each) and plain
JSON, so they travel in the graph state, the prediction and the web app's events; coordinates are
fractions of the image's width and height (a polygon across a panorama's seam has a copy shifted
by one width, so some points lie outside [0, 1]: the drawing clips them).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from pydantic import BaseModel, Field

from sinoloc.tools.evidence import Evidence, EvidenceKind, IgnoredText
from sinoloc.tools.injection import flag_instructions
from sinoloc.tools.ocr.base import OcrSpan
from sinoloc.tools.photo_boxes import Polygon, image_polygons

MAX_MARKS = 80  # lines drawn; the rest are counted in ``omitted``
MAX_TEXT = 120  # characters of a line's text kept in its mark
MAX_POINTS = 40  # points per polygon (a panorama box is sampled at 24)
DIGITS = 4  # decimals of a coordinate fraction: 1/10000 of the image
NOT_LOCATING = "read, not a location clue"


class MarkStatus(str, Enum):
    EVIDENCE = "evidence"
    IGNORED = "ignored"
    FLAGGED = "flagged"


class PhotoMark(BaseModel):
    """One OCR line on the photo."""

    span_id: str
    text: str = Field(max_length=MAX_TEXT)
    status: MarkStatus
    reason: str = Field(default="", max_length=400)
    evidence_ids: list[str] = Field(default_factory=list, max_length=20)
    view_id: str
    polygons: list[list[tuple[float, float]]] = Field(default_factory=list, max_length=2, description=(
        "outlines in fractions of the image (x / width, y / height); two where a box crosses a "
        "panorama's seam"))


class PhotoMarks(BaseModel):
    """The lines of one image, in the coordinates of the image the run was given."""

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    is_panorama: bool
    marks: list[PhotoMark] = Field(default_factory=list, max_length=MAX_MARKS)
    omitted: int = Field(default=0, ge=0, description="lines left out past MAX_MARKS")


def evidence_by_span(evidence: Iterable[Evidence], poi_queries: Iterable[dict]) -> dict[str, list[str]]:
    """``span_id → evidence ids`` resting on that line: the clue's span, or for a geocoded POI
    the span its query was read from (the policy's ``poi_queries`` carry it)."""
    query_spans: dict[str, list[str]] = {}
    for query in poi_queries:
        if query.get("span_id"):
            query_spans.setdefault(str(query.get("query")), []).append(str(query["span_id"]))
    out: dict[str, list[str]] = {}
    for item in evidence:
        spans = [item.span_id, *item.also_span_ids] if item.span_id else []
        if not spans and item.kind is EvidenceKind.POI:
            spans = query_spans.get(item.text, [])
        for span_id in dict.fromkeys(spans):
            if item.id and item.id not in out.setdefault(span_id, []):
                out[span_id].append(item.id)
    return out


def mark_status(flag_cue: str | None, evidence_ids: list[str],
                ignored_reason: str | None) -> tuple[MarkStatus, str]:
    """What one line became, and why in words."""
    if flag_cue:
        return MarkStatus.FLAGGED, f"text addressed to a model ({flag_cue}): treated as data"
    if evidence_ids:
        return MarkStatus.EVIDENCE, "locating evidence " + ", ".join(evidence_ids)
    return MarkStatus.IGNORED, ignored_reason or NOT_LOCATING


def _fractions(polygon: Polygon, width: int, height: int) -> list[tuple[float, float]]:
    step = max(1, -(-len(polygon) // MAX_POINTS))
    return [(round(x / width, DIGITS), round(y / height, DIGITS)) for x, y in polygon[::step]]


def build_photo_marks(spans: list[OcrSpan], evidence: list[Evidence], ignored: list[IgnoredText],
                      poi_queries: list[dict], width: int, height: int,
                      is_panorama: bool) -> PhotoMarks:
    """The marks of a run's OCR lines on its ``width``×``height`` image."""
    flags = flag_instructions(spans)
    by_span = evidence_by_span(evidence, poi_queries)
    reasons = {i.span_id: i.reason for i in ignored if i.span_id}
    marks = []
    for span in spans[:MAX_MARKS]:
        ids = by_span.get(span.span_id, [])
        status, reason = mark_status(flags.get(span.span_id), ids, reasons.get(span.span_id))
        polygons = image_polygons(span.view_id, span.heading, span.box, width, height, is_panorama)
        marks.append(PhotoMark(
            span_id=span.span_id, text=span.text[:MAX_TEXT], status=status, reason=reason[:400],
            evidence_ids=ids[:20], view_id=span.view_id,
            polygons=[_fractions(p, width, height) for p in polygons[:2]]))
    return PhotoMarks(width=width, height=height, is_panorama=is_panorama, marks=marks,
                      omitted=max(0, len(spans) - MAX_MARKS))

"""Text clues from OCR spans: addresses, phones, plates, roads and sign texts of the knowledge
corpus; watermarks and misleading place-named dishes recognised and ignored."""

from __future__ import annotations

import re

from sinoloc.tools.clues.ambiguity import weight_by_population
from sinoloc.tools.clues.filters import mask_misleading, watermark_clue
from sinoloc.tools.clues.fuzzy import address_clue_with_slips
from sinoloc.tools.clues.gazetteer import get_gazetteer
from sinoloc.tools.clues.guide_signs import guide_sign_clues
from sinoloc.tools.clues.institutions import institution_clues
from sinoloc.tools.clues.phones import phone_clues
from sinoloc.tools.clues.plates import plate_clues
from sinoloc.tools.clues.postcodes import postcode_clues
from sinoloc.tools.clues.roads import road_clues
from sinoloc.tools.clues.schema import Clue, ClueKind, RegionSupport
from sinoloc.tools.clues.signs import sign_clues
from sinoloc.tools.clues.towns import town_clues
from sinoloc.tools.clues.welcome import welcome_clues
from sinoloc.tools.injection import neighbour_pairs
from sinoloc.tools.knowledge import Knowledge, get_knowledge
from sinoloc.tools.knowledge.corpus import get_corpus
from sinoloc.tools.knowledge.kinds import get_kinds
from sinoloc.tools.ocr.base import OcrSpan
from sinoloc.tools.regions import get_region_index

__all__ = ["Clue", "ClueKind", "RegionSupport", "extract_clues", "extract_text_clues"]


def _province_folds(knowledge: Knowledge) -> dict[str, str]:
    """Traditional forms the OCR engine reads for a province abbreviation (粵 → 粤)."""
    return {read: rows[0].meant for (position, read), rows in knowledge.plate_confusions.items()
            if position == "province"}


def extract_text_clues(text: str, span_id: str | None = None) -> list[Clue]:
    """Every clue in one line of text."""
    knowledge, index, gazetteer = get_knowledge(), get_region_index(), get_gazetteer()
    watermark = watermark_clue(text, knowledge, span_id)
    if watermark is not None:
        return [watermark]
    masked, clues = mask_misleading(text, knowledge, span_id)
    masked, postcodes = postcode_clues(masked, get_kinds(), index, span_id)
    masked, institutions = institution_clues(masked, get_kinds(), gazetteer, span_id)
    masked, welcomes = welcome_clues(masked, gazetteer, span_id)
    clues += postcodes + institutions + welcomes
    phones = phone_clues(masked, gazetteer, span_id)
    for phone in phones:  # digits of a phone number are not plate or road codes
        masked = masked.replace(phone.text, "□" * len(phone.text))
    plates = plate_clues(masked, knowledge, index, span_id)
    for plate in plates:
        masked = masked.replace(plate.text, "□" * len(plate.text))
    masked, guides = guide_sign_clues(masked, gazetteer, span_id)  # "PLACE N km" is not here
    masked, signs = sign_clues(masked, get_corpus(), gazetteer, span_id,
                               fold=_province_folds(knowledge))
    clues += phones + plates + signs + guides + road_clues(masked, knowledge, span_id)
    addresses = address_clue_with_slips(masked, gazetteer, span_id)
    clues += addresses + town_clues(masked, gazetteer, span_id, addresses)
    # one place for every kind: alternatives a clue cannot tell apart are weighted by population
    return [c.model_copy(update={"regions": weight_by_population(c.regions, index)})
            if len(c.regions) > 1 else c for c in clues]


_DISTANCE_ONLY = re.compile(r"^\s*\d{1,4}(?:\.\d)?\s*(?:km|KM|Km|公里|千米)\s*$")
_HAS_DISTANCE = re.compile(r"\d\s*(?:km|KM|Km|公里|千米)")


def _same_line(a: OcrSpan, b: OcrSpan) -> bool:
    if len(a.box) < 4 or len(b.box) < 4:
        return True  # text without boxes follows in the order given
    ya, yb = [p[1] for p in a.box], [p[1] for p in b.box]
    height = max(max(ya) - min(ya), max(yb) - min(yb), 1.0)
    return abs((max(ya) + min(ya)) - (max(yb) + min(yb))) / 2 <= 0.5 * height


_Line = tuple[str, str | None, float, list[str]]  # text, span id, score, the spans joined to it


def _lines(spans: list[OcrSpan]) -> list[_Line]:
    """(text, span id, score, joined span ids) to read: a guide sign's distance the engine read
    as a span of its own ("马鞍山" | "62公里") joins the text it continues on the sign, so the
    place is read as that far away, not as here; every other span as it is."""
    joined: dict[int, int] = {}
    for i, j in neighbour_pairs(spans):
        if _DISTANCE_ONLY.match(spans[j].text) and not _HAS_DISTANCE.search(spans[i].text) \
                and _same_line(spans[i], spans[j]) and i not in joined and j not in joined.values():
            joined[i] = j
    taken = set(joined.values())
    out: list[_Line] = []
    for i, span in enumerate(spans):
        if i in taken and i not in joined:
            continue
        if i in joined:
            j = joined[i]
            out.append((f"{span.text} {spans[j].text}", span.span_id,
                        min(span.score, spans[j].score), [spans[j].span_id]))
        else:
            out.append((span.text, span.span_id, span.score, []))
    return out


def extract_clues(spans: list[OcrSpan]) -> list[Clue]:
    """Clues from OCR spans, each carrying its span id (and the ids of spans read as one line
    with it); a span's OCR score caps confidence."""
    clues: list[Clue] = []
    for text, span_id, score, joined in _lines(spans):
        for clue in extract_text_clues(text, span_id):
            clues.append(clue.model_copy(update={"confidence": min(clue.confidence, score),
                                                 "also_span_ids": list(joined)}))
    return clues

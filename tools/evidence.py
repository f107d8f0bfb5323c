"""One evidence schema for every tool; the agent cites items by their stable ids (E1, E2, …)."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field

from sinoloc.tools.clues.schema import Clue, ClueKind, PlacePoint, RegionSupport, Ring


class EvidenceKind(str, Enum):
    EXIF_GPS = "exif_gps"
    PRIOR = "prior"
    OCR_ADDRESS = "ocr_address"
    PHONE = "phone"
    PLATE = "plate"
    ROAD = "road"
    GUIDE_SIGN = "guide_sign"
    POI = "poi"
    WEB = "web"
    KNOWLEDGE = "knowledge"
    USER_CLUE = "user_clue"  # a person's clue in human review, weighed like a strong clue


class PointSupport(BaseModel):
    lat: float = Field(ge=-90, le=90)  # WGS-84
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0)


class Evidence(BaseModel):
    id: str = ""  # assigned by the graph when the item is recorded
    kind: EvidenceKind
    text: str
    source: str  # tool + provider / data
    regions: list[RegionSupport] = Field(default_factory=list)
    point: PointSupport | None = None
    # the named place's point in each region it may be in: where the answer goes (not support)
    place_points: list[PlacePoint] = Field(default_factory=list)
    rings: list[Ring] = Field(default_factory=list)  # "N km from PLACE": alternatives (max)
    weight: float = Field(gt=0, lt=1, description=(
        "probability that the truth lies in the supported area if this item were the only "
        "evidence; fusion derives the likelihood ratio from it and the support's size"))
    confidence: float = Field(default=1.0, ge=0, le=1)
    detail: str = ""
    trace: str = ""  # what was asked to obtain it
    span_id: str | None = None  # the OCR line it was read from (T-ids of the ocr tool)
    also_span_ids: list[str] = Field(default_factory=list, exclude_if=lambda v: not v, description=(
        "further OCR lines read as one line with span_id (a guide sign's place and distance)"))
    knowledge_id: str | None = None  # the knowledge-corpus entry it rests on, if any

    @property
    def effective_weight(self) -> float:
        """Weight times the confidence of the reading: the ranking and strength used by
        verification (≥ 0.85 is strong evidence)."""
        return float(self.weight * self.confidence)


class IgnoredText(BaseModel):
    """Text that was read and deliberately not used as a location clue."""

    text: str
    reason: str
    span_id: str | None = None


_CLUE_TO_EVIDENCE = {
    ClueKind.ADDRESS: EvidenceKind.OCR_ADDRESS,
    ClueKind.PLACE: EvidenceKind.OCR_ADDRESS,  # a town / village name is an address read below the district
    ClueKind.PHONE: EvidenceKind.PHONE,
    ClueKind.PLATE: EvidenceKind.PLATE,
    ClueKind.ROAD: EvidenceKind.ROAD,
    ClueKind.GUIDE_SIGN: EvidenceKind.GUIDE_SIGN,
    ClueKind.KNOWLEDGE: EvidenceKind.KNOWLEDGE,
    ClueKind.INSTITUTION: EvidenceKind.KNOWLEDGE,  # cited tables: the MoE list, postcodes
    ClueKind.POSTCODE: EvidenceKind.KNOWLEDGE,
    ClueKind.WELCOME: EvidenceKind.OCR_ADDRESS,  # an admin name read where the sign stands
}


def clue_to_evidence(clue: Clue, trace: str) -> Evidence | IgnoredText | None:
    """Locating clues become evidence; watermarks, place-named dishes and unplaced numbers are
    kept as ignored text; street-level queries are neither (the policy geocodes them)."""
    if clue.kind in (ClueKind.WATERMARK, ClueKind.MISLEADING):
        return IgnoredText(text=clue.text, reason=clue.detail, span_id=clue.span_id)
    if clue.kind is ClueKind.POI_QUERY:
        return None
    if not (clue.regions or clue.rings) or clue.strength <= 0:
        return IgnoredText(text=clue.text, reason=clue.detail, span_id=clue.span_id)
    return Evidence(kind=_CLUE_TO_EVIDENCE[clue.kind], text=clue.text, source=f"clues:{clue.source}",
                    regions=clue.regions, weight=clue.strength, confidence=clue.confidence,
                    detail=clue.detail, trace=trace, span_id=clue.span_id,
                    knowledge_id=clue.knowledge_id, place_points=clue.place_points,
                    rings=clue.rings, also_span_ids=clue.also_span_ids)


__all__ = [
    "Evidence", "EvidenceKind", "IgnoredText", "PlacePoint", "PointSupport", "RegionSupport", "Ring",
    "clue_to_evidence",
]

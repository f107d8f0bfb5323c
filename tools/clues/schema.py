"""The typed record every clue extractor returns."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field


class ClueKind(str, Enum):
    ADDRESS = "ocr_address"  # admin names (and maybe a street) read in the image
    PLACE = "place_name"  # a town or village name → its county (fused as ocr_address evidence)
    PHONE = "phone"
    PLATE = "plate"
    ROAD = "road"
    POI_QUERY = "poi_query"  # street / building text for a geocoder; no region by itself
    WATERMARK = "watermark"  # provider watermark: recognised and ignored
    MISLEADING = "misleading_name"  # a place name that does not locate (兰州拉面, 沙县小吃)
    KNOWLEDGE = "knowledge"  # a sign text that identifies a knowledge-corpus clue (汉口银行)
    INSTITUTION = "institution"  # a university's or college's name → its campus city (中山大学 → 广州)
    POSTCODE = "postcode"  # six digits after 邮编 → the post office's city
    WELCOME = "welcome_sign"  # "XX欢迎您" → the place it welcomes you to


class RegionSupport(BaseModel):
    """A region a clue points to. ``weight`` in (0, 1] is the share of the clue's strength that
    applies to it (a plate gives its city 1.0 and the rest of its province 0.3)."""

    level: str
    adcode: str
    name: str
    weight: float = Field(gt=0, le=1)


def supports_for(regions, index, weight: float = 1.0) -> tuple[list[RegionSupport], str]:
    """Regions a clue names alike (each at ``weight``) and their label for people
    ("四川省成都市 / 江苏省南京市"): the shared form of the place-name clues."""
    labels = [index.label(r) for r in regions]
    return ([RegionSupport(level=r.level.value, adcode=r.adcode, name=label, weight=weight)
             for r, label in zip(regions, labels, strict=True)], " / ".join(labels))


class Clue(BaseModel):
    kind: ClueKind
    text: str  # the matched text
    span_id: str | None = None  # the OCR span it came from
    confidence: float = Field(ge=0, le=1)  # how sure the reading/parse is
    # The probability that the photo lies in the supported regions if this clue were the only
    # evidence (0: the clue does not locate). Fusion turns it into a likelihood ratio that
    # accounts for how many districts the support covers.
    strength: float = Field(ge=0, lt=1)
    regions: list[RegionSupport] = Field(default_factory=list)
    within: str | None = None  # POI queries: the region the text was found next to
    detail: str = ""  # one line for people: what it means
    source: str = ""  # the data it was matched against
    knowledge_id: str | None = None  # the knowledge-corpus entry, for KNOWLEDGE clues

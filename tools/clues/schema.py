"""The typed record every clue extractor returns."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, Field, model_validator


class ClueKind(str, Enum):
    ADDRESS = "ocr_address"  # admin names (and maybe a street) read in the image
    PLACE = "place_name"  # a town or village name → its county (fused as ocr_address evidence)
    GUIDE_SIGN = "guide_sign"  # "PLACE N km" on a guide sign: a ring around PLACE, not PLACE
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


class PlacePoint(BaseModel):
    """Where the place a clue names lies (a town's GeoNames point). Not support — the clue's
    regions say where the photo is — but the answer's point and precision where the belief
    decides the district it lies in."""

    name: str
    lat: float = Field(ge=-90, le=90)  # WGS-84
    lon: float = Field(ge=-180, le=180)
    radius_km: float = Field(gt=0, description="how far a photo in the place lies from its point")


class Ring(BaseModel):
    """A guide sign's "PLACE N km": the photo is ``distance_km`` by road from PLACE, so its
    straight-line distance from PLACE's point lies between ``inner_km`` and ``outer_km`` (a road
    is longer than the straight line; PLACE's point is uncertain by its own extent). Fusion
    supports each district by the share of its area inside the ring."""

    place: str  # as named on the sign, with the region it resolved to
    lat: float = Field(ge=-90, le=90)  # WGS-84 point of PLACE
    lon: float = Field(ge=-180, le=180)
    distance_km: float = Field(gt=0, le=3000)
    inner_km: float = Field(ge=0)
    outer_km: float = Field(gt=0, le=3500)

    @model_validator(mode="after")
    def _band(self) -> Ring:
        if not self.inner_km <= self.distance_km <= self.outer_km:
            raise ValueError(f"ring band [{self.inner_km}, {self.outer_km}] km must hold the "
                             f"distance {self.distance_km} km")
        return self


class Clue(BaseModel):
    kind: ClueKind
    text: str  # the matched text
    span_id: str | None = None  # the OCR span it came from
    # further spans read as one line with it (a guide sign's "马鞍山" | "62公里")
    also_span_ids: list[str] = Field(default_factory=list)
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
    place_points: list[PlacePoint] = Field(default_factory=list)  # the named town's (per region)
    rings: list[Ring] = Field(default_factory=list)  # guide-sign distances: alternatives (max)

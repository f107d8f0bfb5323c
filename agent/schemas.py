"""Typed records at the agent's boundaries: the submitted answer, the verdict, the tool trace and
the final :class:`GeoPrediction` (the request and its settings are in :mod:`sinoloc.agent.settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_serializer

from sinoloc.agent.samples.report import SamplesReport
from sinoloc.tools.evidence import Evidence, IgnoredText
from sinoloc.tools.online.client import OutboundQuery
from sinoloc.tools.photo_marks import PhotoMarks

Band = Literal["low", "medium", "high"]


class Locatability(BaseModel):
    """How much an image can be located from what it shows (computed after the prelude)."""

    score: float = Field(ge=0, le=1)
    band: Band
    components: dict[str, float] = Field(description="the sources that were measured")
    features: dict[str, float] = Field(default_factory=dict)


class Answer(BaseModel):
    """What the policy (deterministic or a model) commits to through ``submit_answer``."""

    province: str = Field(description="province-level name, e.g. 浙江省")
    city: str | None = Field(default=None, description="prefecture-level name, e.g. 杭州市")
    district: str | None = Field(default=None, description="county-level name, e.g. 西湖区")
    lat: float = Field(ge=-90, le=90, description="WGS-84 latitude")
    lon: float = Field(ge=-180, le=180, description="WGS-84 longitude")
    confidence: float = Field(default=0.5, ge=0, le=1)
    province_evidence: list[str] = Field(default_factory=list)
    city_evidence: list[str] = Field(default_factory=list)
    district_evidence: list[str] = Field(default_factory=list)
    acknowledged_conflicts: dict[str, str] = Field(
        default_factory=dict, description="evidence id (or knowledge entry id) → why it is "
        "outweighed")
    observations: list[str] = Field(default_factory=list, max_length=20, description=(
        "what you see in the image that bears on the location, one short phrase each "
        "(\"snow on the ground\", \"Tibetan script on shop signs\", \"红土\"); each is checked "
        "against the knowledge base for consistency with the claimed region"))
    reasoning: str = ""


class Check(BaseModel):
    name: str
    passed: bool
    message: str = ""
    evidence_ids: list[str] = Field(default_factory=list, description=(
        "the evidence the result is about (e.g. the items a contradiction names); written out "
        "only when there is some"))

    @model_serializer(mode="wrap")
    def _omit_no_ids(self, handler):
        data = handler(self)
        if not self.evidence_ids:
            data.pop("evidence_ids", None)
        return data


class Verdict(BaseModel):
    accepted: bool
    checks: list[Check]
    feedback: str = ""  # what the policy is told when it is sent back
    round: int = 1


ToolStatus = Literal["ok", "no_result", "unavailable", "error"]


class ToolTrace(BaseModel):
    call_id: str
    tool: str
    args: dict
    status: ToolStatus
    summary: str
    seconds: float
    evidence_ids: list[str] = Field(default_factory=list)


class Usage(BaseModel):
    """What one image cost: calls, tokens and, where a price is known, US dollars."""

    model_calls: int = 0
    model_errors: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    price_source: str | None = None


class LevelConfidence(BaseModel):
    province: float
    city: float
    district: float


class Candidate(BaseModel):
    rank: int
    province: str
    city: str | None
    district: str
    adcode: str
    probability: float
    lat: float
    lon: float


class RegionCandidate(BaseModel):
    """A province or city ranked by the belief's mass on it."""

    rank: int
    name: str
    adcode: str
    probability: float


class ImageSummary(BaseModel):
    sha256: str
    width: int
    height: int
    is_panorama: bool
    exif_gps_used: bool


class GeoPrediction(BaseModel):
    """The answer: admin names and adcodes, WGS-84 coordinates, candidates, evidence."""

    province: str
    province_adcode: str
    city: str | None
    city_adcode: str | None
    district: str | None
    district_adcode: str | None
    lat: float
    lon: float
    coordinate_system: str = "WGS-84"
    confidence: LevelConfidence
    precision_km: float = Field(description="expected distance of the truth from lat/lon")
    basis: Literal["evidence", "prior_only"] = Field(description=(
        "evidence: located by evidence; prior_only: the visual prior alone, or nothing"))
    candidates: list[Candidate]
    province_candidates: list[RegionCandidate] = Field(default_factory=list)
    city_candidates: list[RegionCandidate] = Field(default_factory=list)
    evidence: list[Evidence]
    ignored_text: list[IgnoredText] = Field(default_factory=list)
    photo_marks: PhotoMarks | None = Field(default=None, description=(
        "each OCR line where it was read in the image, and what it became (evidence, ignored, "
        "flagged as an instruction); None when nothing was read"))
    reasoning: str
    verification: Verdict | None = None
    tool_calls: list[ToolTrace] = Field(default_factory=list)
    locatability: Locatability | None = Field(default=None, description=(
        "how much the image reveals about its location, from what the tools found"))
    outbound_queries: list[OutboundQuery] = Field(default_factory=list, description=(
        "every query sent to an online service (keys redacted), or answered from the cache"))
    timings: dict[str, float] = Field(default_factory=dict)
    backend: str
    backend_fallback: str | None = Field(default=None, description=(
        "why the model backend stopped and the deterministic policy finished, if it did"))
    answered_by: str = Field(default="fusion", description=(
        "who produced the committed answer: the model backend, or the fusion engine"))
    usage: Usage = Field(default_factory=Usage)
    warnings: list[str] = Field(default_factory=list)
    image: ImageSummary
    samples: SamplesReport | None = Field(default=None, exclude_if=lambda v: v is None,
                                          description=(
        "with samples > 1: the trajectories, their agreement and how the answer was selected "
        "(usage above is the cost of all of them)"))


class TranscriptEntry(BaseModel):
    """One line of a conversation as a person saw it (kept in the thread for ``--thread``)."""

    kind: Literal["image", "question", "answer", "reply"]
    text: str
    at: float = Field(description="wall clock, seconds since the epoch")

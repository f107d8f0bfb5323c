"""Human review, the pure half: what a person is shown before commit, what they may answer, and
how their answer becomes evidence or a submission (the node is :mod:`sinoloc.agent.nodes.review`).

With the ``review`` setting the graph stops (LangGraph ``interrupt()``) before commit with a
:class:`ReviewRequest`: the proposed prediction, its candidates and evidence. A resume
(``Command(resume=ReviewDecision(...))``) answers it:

- ``approve``: the proposal is committed;
- ``edit``: the person's place is submitted and verified like any answer (its coordinates and
  citations filled in from the evidence); an edit the evidence rules out comes back with the
  verifier's reasons;
- ``reject``: the reason goes to the policy, which looks again and submits anew;
- ``clue``: the person's clue becomes evidence of kind ``user_clue`` (weighed like a strong
  clue) and the policy answers again; a clue that contradicts evidence at least as strong
  is kept beside it, never over it, and a warning says so.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from sinoloc.agent.schemas import Answer, GeoPrediction
from sinoloc.tools.clues.schema import RegionSupport
from sinoloc.tools.evidence import Evidence, EvidenceKind
from sinoloc.tools.fusion import supports
from sinoloc.tools.regions import Level, Region, RegionIndex

USER_CLUE_WEIGHT = 0.9  # a strong clue: STRONG_EVIDENCE (0.85) and above must be explained
USER_SOURCE = "user:review"
MAX_CLUE_CHARS = 500
Action = Literal["approve", "edit", "reject", "clue"]
ACTIONS: tuple[Action, ...] = ("approve", "edit", "reject", "clue")


class ReviewDecision(BaseModel):
    """A person's answer to a review (the value of ``Command(resume=...)``)."""

    action: Action
    place: str | None = Field(default=None, max_length=200, description=(
        "edit: the place, e.g. 江苏省苏州市姑苏区 or an adcode"))
    lat: float | None = Field(default=None, ge=-90, le=90, description="edit: WGS-84 latitude")
    lon: float | None = Field(default=None, ge=-180, le=180, description="edit: WGS-84 longitude")
    reason: str | None = Field(default=None, max_length=MAX_CLUE_CHARS, description=(
        "reject: why the answer is wrong (the policy reads it)"))
    clue: str | None = Field(default=None, max_length=MAX_CLUE_CHARS, description=(
        "clue: what you know, naming a place, a plate prefix or a phone number "
        "(\"粤B plate\", \"it is in 苏州\")"))

    @model_validator(mode="after")
    def _complete(self) -> ReviewDecision:
        need = {"edit": "place", "reject": "reason", "clue": "clue"}.get(self.action)
        if need and not (getattr(self, need) or "").strip():
            raise ValueError(f"{self.action} needs {need}")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class ReviewRequest(BaseModel):
    """What the graph shows a person before commit (the interrupt's value)."""

    kind: Literal["review"] = "review"
    proposal: GeoPrediction
    feedback: str = Field(default="", description=(
        "why the last decision was not taken (an edit the verifier refused, a clue that "
        "names no place)"))
    actions: list[Action] = Field(default_factory=lambda: list(ACTIONS))


class ReviewRefused(ValueError):
    """A decision that cannot be applied: the message goes back to the person."""


def resolve_place(text: str, index: RegionIndex) -> Region:
    """The region a person names: an adcode, or admin names (江苏省苏州市姑苏区, 苏州)."""
    from sinoloc.tools.clues.gazetteer import get_gazetteer

    text = (text or "").strip()
    if re.fullmatch(r"\d{6}", text):
        found = index.get(text)
        if found is not None:
            return found
    resolution = get_gazetteer().resolve(text) if text else None
    if resolution is None:
        raise ReviewRefused(f"{text[:60]!r} names no province, city or district")
    if resolution.alternatives:
        names = "、".join(index.label(r) for r in (resolution.region, *resolution.alternatives))
        raise ReviewRefused(f"{text[:60]!r} is ambiguous ({names}): name its province or city")
    return resolution.region


def _edited_point(decision: ReviewDecision, evidence: list[Evidence], region: Region,
                  index: RegionIndex) -> tuple[float, float]:
    """The person's point, else the best point evidence inside ``region``, else its centre."""
    if decision.lat is not None and decision.lon is not None:
        return decision.lat, decision.lon
    inside = [e for e in evidence if e.point is not None
              and index.contains(region, e.point.lon, e.point.lat)]
    best = max(inside, key=lambda e: e.effective_weight, default=None)
    return (best.point.lat, best.point.lon) if best and best.point else (region.lat, region.lon)


def _cited_levels(region: Region, evidence: list[Evidence], index: RegionIndex) -> list[list[str]]:
    """For province, city and district of ``region``: the ids of the non-prior evidence that
    supports it ([] for a level below the region's own)."""
    levels = [index.province_of(region), index.city_of(region) if region.level is not Level.PROVINCE
              else None, region if region.level is Level.DISTRICT else None]
    return [[e.id for e in evidence if e.kind is not EvidenceKind.PRIOR and supports(e, r, index)]
            if r is not None else [] for r in levels]


def edited_answer(decision: ReviewDecision, evidence: list[Evidence],
                  index: RegionIndex) -> Answer:
    """A person's edit as a submission: the named place, their point or one inside it (the best
    point evidence there, else the region's centre), and the evidence supporting each level
    cited, so the verifier judges the place against the evidence, not the form."""
    region = resolve_place(decision.place or "", index)
    path = index.admin_path(region)
    lat, lon = _edited_point(decision, evidence, region, index)
    cited = _cited_levels(region, evidence, index)
    return Answer(province=path.province or index.province_of(region).name, city=path.city,
                  district=path.district, lat=lat, lon=lon, confidence=0.9,
                  province_evidence=cited[0], city_evidence=cited[1], district_evidence=cited[2],
                  reasoning=f"edited in review: {index.label(region)}")


def clue_evidence(text: str, index: RegionIndex) -> Evidence:
    """A person's clue as evidence of kind ``user_clue`` (without its id): the regions the text
    names (admin names, phone numbers, plates, knowledge sign texts; a province abbreviation or
    its English name), weighed like a strong clue. Raises :class:`ReviewRefused` when the text
    names nothing sinoloc can place (\"it's in the south\")."""
    from sinoloc.tools.clues import extract_text_clues

    text = " ".join(text.split())[:MAX_CLUE_CHARS]
    regions: dict[str, RegionSupport] = {}
    for clue in extract_text_clues(text):
        for reg in clue.regions if clue.strength > 0 else []:
            kept = regions.get(reg.adcode)
            if kept is None or kept.weight < reg.weight:
                regions[reg.adcode] = reg
    if not regions:
        for region in _named_provinces(text, index):
            regions[region.adcode] = RegionSupport(level=region.level.value, adcode=region.adcode,
                                                   name=region.name, weight=1.0)
    if not regions:
        raise ReviewRefused(f"the clue {text[:60]!r} names no place sinoloc can resolve: name a "
                            "province, city or district, a plate (粤B) or a phone number")
    names = "、".join(r.name for r in regions.values())
    return Evidence(kind=EvidenceKind.USER_CLUE, text=text, source=USER_SOURCE,
                    regions=list(regions.values()), weight=USER_CLUE_WEIGHT, confidence=1.0,
                    detail=f"a person's clue: {names}", trace=f"review clue {text[:80]!r}")


def _named_provinces(text: str, index: RegionIndex) -> list[Region]:
    """Provinces named by a plate abbreviation next to 牌/plate (粤 plate, 苏牌) or in English."""
    from sinoloc.tools.knowledge import get_knowledge

    knowledge = get_knowledge()
    found = []
    for abbreviation, province in knowledge.province_abbreviations.items():
        if re.search(re.escape(abbreviation) + r"\s*[A-Z]?\s*(牌|车牌|plate)", text, re.I):
            found.append(province)
    words = re.sub(r"[^a-z]", "", text.lower())
    for name, province in knowledge.province_english.items():
        if len(name) >= 4 and name in words and province not in found:
            found.append(province)
    return found


def contradictions(clue: Evidence, evidence: list[Evidence], index: RegionIndex) -> list[str]:
    """Evidence at least as strong as the clue that points only outside its regions: the
    warnings a person sees (their clue is weighed beside it, not over it)."""
    clue_regions = [r for r in (index.get(s.adcode, s.level) for s in clue.regions) if r is not None]
    out = []
    for item in evidence:
        if item.kind in (EvidenceKind.PRIOR, EvidenceKind.USER_CLUE) \
                or item.effective_weight < clue.effective_weight:
            continue
        if not any(supports(item, region, index) for region in clue_regions):
            out.append(f"{item.id} ({item.kind.value}: {item.detail or item.text})")
    return out


def contradiction_warning(clue: Evidence, against: list[str]) -> str:
    return (f"your clue {clue.id} ({clue.text}) contradicts evidence at least as strong: "
            f"{'; '.join(against)}. Both are weighed; the clue does not override it")


__all__ = ["USER_CLUE_WEIGHT", "Action", "ReviewDecision", "ReviewRefused", "ReviewRequest",
           "clue_evidence", "contradiction_warning", "contradictions", "edited_answer",
           "resolve_place"]

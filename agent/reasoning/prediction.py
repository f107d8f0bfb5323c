"""Build the final :class:`GeoPrediction` from the accepted answer and the evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sinoloc.agent.llm.usage import cost_usd
from sinoloc.agent.reasoning.verify import low_confidence_warning, resolve_answer
from sinoloc.agent.samples.report import SamplesReport
from sinoloc.agent.schemas import (
    Answer,
    Candidate,
    GeoPrediction,
    ImageSummary,
    LevelConfidence,
    RegionCandidate,
    ToolTrace,
    Usage,
    Verdict,
)
from sinoloc.agent.settings import field_default
from sinoloc.agent.state import evidence_in
from sinoloc.agent.toolbox.runner import SWITCHED_OFF
from sinoloc.tools.evidence import Evidence, IgnoredText
from sinoloc.tools.fusion import Belief, fuse, listing_key, precision_km
from sinoloc.tools.ocr.base import OcrSpan
from sinoloc.tools.online.client import OutboundQuery
from sinoloc.tools.photo_marks import PhotoMarks, build_photo_marks
from sinoloc.tools.regions import Level, Region, RegionIndex
from sinoloc.tools.secrets import scrub_secrets

REGION_CANDIDATES = 5  # provinces and cities ranked in the output


def ranked_regions(belief, level: Level, index: RegionIndex, k: int = REGION_CANDIDATES,
                   preferred: str | None = None) -> list[RegionCandidate]:
    """The ``k`` provinces or cities with the most belief mass, the claimed region
    ``preferred`` first (:func:`listing_key`)."""
    marginal = sorted(belief.marginal(level).items(),
                      key=lambda kv: listing_key(kv[1], kv[0], preferred))
    out: list[RegionCandidate] = []
    for adcode, p in marginal:
        region = index.get(adcode, level) if adcode else None
        if region is None:
            continue
        out.append(RegionCandidate(rank=len(out) + 1, name=region.name, adcode=adcode,
                                   probability=round(p, 5)))
        if len(out) == k:
            break
    return out


Claimed = tuple[Region, Region | None, Region | None]  # province, city, district


def claimed_regions(answer: Answer, index: RegionIndex,
                    warnings: list[str]) -> Claimed:
    """The answer's regions; names that do not resolve are taken from its point (an
    unresolvable answer never leaves), with a warning."""
    (province, city, district), problems = resolve_answer(answer, index)
    if province is not None:
        return province, city, district
    located = index.reverse(answer.lon, answer.lat) or index.nearest_district(
        answer.lon, answer.lat)[0]
    warnings.append("answer names did not resolve (" + "; ".join(problems)
                    + "): names taken from the coordinates")
    return index.province_of(located), index.city_of(located), located


def evidence_warnings(belief: Belief, verdict: Verdict | None, claimed: Claimed,
                      index: RegionIndex) -> list[str]:
    """What the user should know about how the answer stands on the evidence."""
    warnings = []
    if verdict is not None and not verdict.accepted:
        warnings.append("verification did not pass after the last round: "
                        + "; ".join(f"{c.name}: {c.message}" for c in verdict.checks
                                    if not c.passed))
    if not belief.evidence_count:
        warnings.append("no locating evidence: the answer rests on the visual prior alone"
                        if belief.visual_prior else
                        "no locating evidence: the answer is a prior guess with low confidence")
    low = low_confidence_warning(belief, list(claimed), index)
    if low:
        warnings.append(low)
    return warnings


def district_candidates(belief: Belief, index: RegionIndex, top_k: int,
                        claimed: Region | None) -> list[Candidate]:
    """The ``top_k`` districts by the belief the confidences come from; the claimed district
    first among equals."""
    candidates = []
    ranked = belief.top_districts(top_k, preferred=claimed.adcode if claimed else None)
    for rank, (region, p) in enumerate(ranked, start=1):
        path = index.admin_path(region)
        if path.province is None:  # every district of the region data has its province
            raise ValueError(f"district {region.adcode} has no province in the region data")
        candidates.append(Candidate(rank=rank, province=path.province, city=path.city,
                                    district=region.name, adcode=region.adcode,
                                    probability=round(p, 5), lat=region.lat, lon=region.lon))
    return candidates


def usage_of_run(state: Mapping[str, Any]) -> Usage:
    """Model calls, tokens and their price (when the model has one), and tool calls."""
    counts = state.get("usage", {})
    cost, price_source = (None, None)
    if counts.get("model_calls"):
        cost, price_source = cost_usd(state.get("backend", "deterministic"),
                                      counts.get("input_tokens", 0),
                                      counts.get("output_tokens", 0))
    return Usage(model_calls=counts.get("model_calls", 0),
                 model_errors=counts.get("model_errors", 0),
                 tool_calls=sum(t.get("summary") != SWITCHED_OFF  # calls that could run
                                for t in state.get("tool_trace", [])),
                 input_tokens=counts.get("input_tokens", 0),
                 output_tokens=counts.get("output_tokens", 0),
                 cost_usd=cost, price_source=price_source)


def image_summary(state: Mapping[str, Any]) -> ImageSummary:
    image = state.get("image", {})
    return ImageSummary(sha256=image.get("sha256", ""), width=image.get("width", 0),
                        height=image.get("height", 0), is_panorama=bool(image.get("is_panorama")),
                        exif_gps_used=bool(image.get("exif_gps"))
                        and not state["request"].get("ignore_exif"))


def samples_report(state: Mapping[str, Any]) -> SamplesReport | None:
    """The trajectories' report, when this turn made one (samples > 1)."""
    report = state.get("samples")
    if not report or report.get("run") != state.get("started_at"):
        return None
    return SamplesReport.model_validate({k: v for k, v in report.items() if k != "run"})


def _mass(belief: Belief, region: Region | None) -> float:
    return round(belief.mass(region), 4) if region else 0.0


def photo_marks_of(state: Mapping[str, Any], evidence: list[Evidence]) -> PhotoMarks | None:
    """The run's OCR lines on its image (None when nothing was read or no image was ingested)."""
    spans = [OcrSpan.model_validate(s) for s in state.get("ocr_spans") or []]
    image = state.get("image") or {}
    if not spans or not image.get("width") or not image.get("height"):
        return None
    ignored = [IgnoredText.model_validate(i) for i in state.get("ignored_text", [])]
    return build_photo_marks(spans, evidence, ignored, list(state.get("poi_queries") or []),
                             int(image["width"]), int(image["height"]),
                             bool(image.get("is_panorama")))


def build_prediction(state: Mapping[str, Any], index: RegionIndex) -> GeoPrediction:
    """The committed answer with everything behind it: confidences and candidates from the
    belief over the run's evidence, warnings, the tool trace, usage and timings."""
    evidence = evidence_in(state)
    answer = Answer.model_validate(state["answer"])
    verdict = Verdict.model_validate(state["verdict"]) if state.get("verdict") else None
    belief = fuse(evidence, index)
    warnings = [scrub_secrets(w) for w in state.get("warnings", [])]  # no key leaves in output
    claimed = province, city, district = claimed_regions(answer, index, warnings)
    warnings += evidence_warnings(belief, verdict, claimed, index)
    top_k = int(state.get("request", {}).get("top_k", field_default("top_k")))
    return GeoPrediction(
        province=province.name, province_adcode=province.adcode,
        city=city.name if city else None, city_adcode=city.adcode if city else None,
        district=district.name if district else None,
        district_adcode=district.adcode if district else None,
        lat=answer.lat, lon=answer.lon,
        confidence=LevelConfidence(province=_mass(belief, province), city=_mass(belief, city),
                                   district=_mass(belief, district)),
        precision_km=precision_km(belief, answer.lon, answer.lat, evidence),
        basis="evidence" if belief.evidence_count else "prior_only",
        candidates=district_candidates(belief, index, top_k, district),
        province_candidates=ranked_regions(belief, Level.PROVINCE, index,
                                           preferred=province.adcode),
        city_candidates=ranked_regions(belief, Level.CITY, index,
                                       preferred=city.adcode if city else None),
        evidence=evidence,
        ignored_text=[IgnoredText.model_validate(i) for i in state.get("ignored_text", [])],
        photo_marks=photo_marks_of(state, evidence), reasoning=answer.reasoning, verification=verdict,
        tool_calls=[ToolTrace.model_validate(t) for t in state.get("tool_trace", [])],
        outbound_queries=[OutboundQuery.model_validate(q) for q in state.get("outbound", [])],
        locatability=state.get("locatability"),
        timings=dict(state.get("timings", {})), backend=state.get("backend", "deterministic"),
        backend_fallback=scrub_secrets(state.get("backend_fallback")) or None,
        answered_by=state.get("answered_by", "fusion"), usage=usage_of_run(state),
        warnings=warnings, image=image_summary(state), samples=samples_report(state),
    )

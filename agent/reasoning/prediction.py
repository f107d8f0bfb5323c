"""Build the final :class:`GeoPrediction` from the accepted answer and the evidence."""

from __future__ import annotations

from sinoloc.agent.fusion import fuse, listing_key, precision_km
from sinoloc.agent.llm.usage import cost_usd
from sinoloc.agent.reasoning.verify import low_confidence_warning, resolve_answer
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
from sinoloc.tools.evidence import Evidence, IgnoredText
from sinoloc.tools.online.client import OutboundQuery
from sinoloc.tools.regions import Level, RegionIndex
from sinoloc.tools.secrets import scrub_secrets

REGION_CANDIDATES = 5  # provinces and cities ranked in the output


def ranked_regions(belief, level: Level, index: RegionIndex, k: int = REGION_CANDIDATES,
                   preferred: str | None = None) -> list[RegionCandidate]:
    """The ``k`` provinces or cities with the most belief mass, the claimed region
    ``preferred`` first (:func:`listing_key`)."""
    marginal = sorted(belief.marginal(level).items(),
                      key=lambda kv: listing_key(kv[1], kv[0], preferred))
    out = []
    for adcode, p in marginal:
        region = index.get(adcode, level) if adcode else None
        if region is None:
            continue
        out.append(RegionCandidate(rank=len(out) + 1, name=region.name, adcode=adcode,
                                   probability=round(p, 5)))
        if len(out) == k:
            break
    return out


def build_prediction(state: dict, index: RegionIndex) -> GeoPrediction:
    evidence = [Evidence.model_validate(e) for e in state.get("evidence", [])]
    answer = Answer.model_validate(state["answer"])
    verdict = Verdict.model_validate(state["verdict"]) if state.get("verdict") else None
    belief = fuse(evidence, index)
    (province, city, district), problems = resolve_answer(answer, index)
    warnings = [scrub_secrets(w) for w in state.get("warnings", [])]  # no key leaves in output
    if province is None:  # an unresolvable answer never leaves: fall back to the point
        located = index.reverse(answer.lon, answer.lat) or index.nearest_district(
            answer.lon, answer.lat)[0]
        province, city, district = index.province_of(located), index.city_of(located), located
        warnings.append("answer names did not resolve (" + "; ".join(problems)
                        + "): names taken from the coordinates")
    if verdict is not None and not verdict.accepted:
        warnings.append("verification did not pass after the last round: "
                        + "; ".join(f"{c.name}: {c.message}" for c in verdict.checks
                                    if not c.passed))
    basis = "evidence" if belief.evidence_count else "prior_only"
    if basis == "prior_only":
        warnings.append("no locating evidence: the answer rests on the visual prior alone"
                        if belief.visual_prior else
                        "no locating evidence: the answer is a prior guess with low confidence")

    low = low_confidence_warning(belief, [province, city, district], index)
    if low:
        warnings.append(low)

    top_k = int(state.get("request", {}).get("top_k", 10))
    candidates = []
    # ranked by the belief that the confidences come from; the answer first among equals
    ranked = belief.top_districts(top_k, preferred=district.adcode if district else None)
    for rank, (region, p) in enumerate(ranked, start=1):
        path = index.admin_path(region)
        candidates.append(Candidate(rank=rank, province=path.province, city=path.city,
                                    district=region.name, adcode=region.adcode,
                                    probability=round(p, 5), lat=region.lat, lon=region.lon))
    image = state.get("image", {})
    backend = state.get("backend", "deterministic")
    counts = state.get("usage", {})
    cost, price_source = (None, None)
    if counts.get("model_calls"):
        cost, price_source = cost_usd(backend, counts.get("input_tokens", 0),
                                      counts.get("output_tokens", 0))
    usage = Usage(model_calls=counts.get("model_calls", 0),
                  model_errors=counts.get("model_errors", 0),
                  tool_calls=len(state.get("tool_trace", [])),
                  input_tokens=counts.get("input_tokens", 0),
                  output_tokens=counts.get("output_tokens", 0),
                  cost_usd=cost, price_source=price_source)
    gps = image.get("exif_gps")
    return GeoPrediction(
        province=province.name, province_adcode=province.adcode,
        city=city.name if city else None, city_adcode=city.adcode if city else None,
        district=district.name if district else None,
        district_adcode=district.adcode if district else None,
        lat=answer.lat, lon=answer.lon,
        confidence=LevelConfidence(
            province=round(belief.mass(province), 4),
            city=round(belief.mass(city), 4) if city else 0.0,
            district=round(belief.mass(district), 4) if district else 0.0),
        precision_km=precision_km(belief, answer.lon, answer.lat, evidence),
        basis=basis, candidates=candidates,
        province_candidates=ranked_regions(belief, Level.PROVINCE, index,
                                           preferred=province.adcode),
        city_candidates=ranked_regions(belief, Level.CITY, index,
                                       preferred=city.adcode if city else None),
        evidence=evidence,
        ignored_text=[IgnoredText.model_validate(i) for i in state.get("ignored_text", [])],
        reasoning=answer.reasoning, verification=verdict,
        tool_calls=[ToolTrace.model_validate(t) for t in state.get("tool_trace", [])],
        outbound_queries=[OutboundQuery.model_validate(q) for q in state.get("outbound", [])],
        locatability=state.get("locatability"),
        timings=dict(state.get("timings", {})), backend=backend,
        backend_fallback=scrub_secrets(state.get("backend_fallback")) or None,
        answered_by=state.get("answered_by", "fusion"), usage=usage, warnings=warnings,
        image=ImageSummary(sha256=image.get("sha256", ""), width=image.get("width", 0),
                           height=image.get("height", 0),
                           is_panorama=bool(image.get("is_panorama")),
                           exif_gps_used=bool(gps) and not state["request"].get("ignore_exif")),
    )


"""Turn the fused belief into an :class:`Answer` with citations (the deterministic policy's
hypothesis), and describe it in a sentence."""

from __future__ import annotations

from sinoloc.agent.schemas import Answer, Verdict
from sinoloc.tools.evidence import Evidence
from sinoloc.tools.fusion import Belief, Decision, decide, fuse, supports
from sinoloc.tools.regions import Level, RegionIndex


def citations(region, evidence: list[Evidence], index: RegionIndex) -> list[str]:
    """Ids of the evidence that points into ``region``, strongest first (the visual prior
    where it puts a real share of its mass)."""
    if region is None:
        return []
    hits = [e for e in evidence if supports(e, region, index)]
    hits.sort(key=lambda e: -e.effective_weight)
    return [e.id for e in hits]


def answer_from_decision(decision: Decision, belief: Belief, evidence: list[Evidence],
                         verdict: Verdict | None = None) -> Answer:
    index = belief.index
    district = index.require(decision.district_adcode, Level.DISTRICT)
    city, province = index.city_of(district), index.province_of(district)
    acknowledged = {}
    if verdict is not None and not verdict.accepted:  # reflect: explain what was outweighed
        mass = belief.mass(district)
        contradicting = {i for c in verdict.checks if c.name == "no_unexplained_contradiction"
                         for i in c.evidence_ids}
        for item in evidence:
            if item.id in contradicting:
                acknowledged[item.id] = (
                    f"outweighed: the fused evidence puts {mass:.0%} of the belief in "
                    f"{index.label(district)}")
    return Answer(
        province=province.name, city=city.name if city else None, district=district.name,
        lat=decision.lat, lon=decision.lon, confidence=decision.confidence_district,
        province_evidence=citations(province, evidence, index),
        city_evidence=citations(city, evidence, index),
        district_evidence=citations(district, evidence, index),
        acknowledged_conflicts=acknowledged,
        reasoning=describe(decision, belief, evidence),
    )


def describe(decision: Decision, belief: Belief, evidence: list[Evidence]) -> str:
    index = belief.index
    district = index.require(decision.district_adcode, Level.DISTRICT)
    label = index.label(district)
    if belief.evidence_count == 0 and belief.visual_prior:
        return (f"No locating evidence beyond the visual prior, so the answer follows the prior "
                f"alone ({label}; province {decision.confidence_province:.0%}, city "
                f"{decision.confidence_city:.0%}); treat it as an informed guess.")
    if belief.evidence_count == 0:
        return (f"No locating evidence was found, so the answer is the most likely place under a "
                f"prior by where people live (the likeliest province, city in it, district in "
                f"that: {label}); treat it as a guess (province confidence "
                f"{decision.confidence_province:.0%}).")
    strongest = sorted(evidence, key=lambda e: -e.effective_weight)[:3]
    basis = "; ".join(f"{e.id} {e.kind.value} «{e.text}»" for e in strongest)
    where = {"province": "the province", "city": "the city", "district": "the district",
             None: "no level"}[decision.anchor_level]
    return (f"{label}: evidence decides {where} (province {decision.confidence_province:.0%}, "
            f"city {decision.confidence_city:.0%}, district {decision.confidence_district:.0%}). "
            f"Strongest: {basis}.")


def fused_answer(evidence: list[Evidence], index: RegionIndex,
                 verdict: Verdict | None = None) -> tuple[Answer, Belief, Decision]:
    belief = fuse(evidence, index)
    decision = decide(belief, evidence)
    return answer_from_decision(decision, belief, evidence, verdict), belief, decision

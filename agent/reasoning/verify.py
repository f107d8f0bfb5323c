"""Verification: a submitted answer's names resolved against the region data, then checked
against the evidence by the pure checks of :mod:`sinoloc.agent.reasoning.checks`; and the
low-confidence warning a committed answer carries."""

from __future__ import annotations

from sinoloc.agent.reasoning.checks import CHECKS, Claim, pct
from sinoloc.agent.schemas import Answer, Verdict
from sinoloc.prompts import render_prompt
from sinoloc.tools.evidence import Evidence
from sinoloc.tools.fusion import Belief
from sinoloc.tools.knowledge.retrieval import KnowledgeIndex
from sinoloc.tools.regions import Level, Region, RegionIndex


def resolve_answer(answer: Answer, index: RegionIndex) -> tuple[list[Region | None], list[str]]:
    """The answer's names as regions [province, city, district] and any problems found."""
    problems = []
    provinces = index.lookup(answer.province, level=Level.PROVINCE)
    province = provinces[0] if provinces else None
    if province is None:
        problems.append(f"province {answer.province!r} is not a province-level region")
    city = district = None
    if answer.city and province is not None:
        cities = index.lookup(answer.city, level=Level.CITY, within=province)
        city = cities[0] if cities else None
        if city is None:
            problems.append(f"city {answer.city!r} is not in {province.name}")
    parent = city or province
    if answer.district and parent is not None:
        districts = index.lookup(answer.district, level=Level.DISTRICT, within=parent)
        district = districts[0] if districts else None
        if district is None:
            problems.append(f"district {answer.district!r} is not in {parent.name}")
        elif city is None:
            city = index.city_of(district)
    return [province, city, district], problems


def verify(answer: Answer, evidence: list[Evidence], index: RegionIndex,
           round_no: int = 1, max_rounds: int = 3,
           knowledge: KnowledgeIndex | None = None) -> Verdict:
    """Check ``answer`` with every check of :data:`~sinoloc.agent.reasoning.checks.CHECKS`.
    ``knowledge`` (loaded on demand when the answer has observations or the evidence includes
    knowledge-base clues) checks what was seen against the claim."""
    regions, problems = resolve_answer(answer, index)
    claim = Claim(answer=answer, regions=regions, problems=problems, evidence=evidence,
                  index=index, knowledge=knowledge)
    checks = [c for c in (check(claim) for check in CHECKS) if c is not None]
    accepted = all(c.passed for c in checks)
    feedback = "" if accepted else render_prompt(
        "verify_feedback", round=round_no, max_rounds=max_rounds,
        failures="\n".join(f"- {c.name}: {c.message}" for c in checks if not c.passed))
    return Verdict(accepted=accepted, checks=checks, feedback=feedback, round=round_no)


LOW_CONFIDENCE = 0.05  # city + district share of the belief under which a committed answer warns


def low_confidence_warning(belief: Belief, claimed: list[Region | None],
                           index: RegionIndex) -> str | None:
    """A warning for a committed answer the evidence gives almost no weight (city + district
    share under 5 %, or the province's when no city is claimed), naming the belief's leader.
    ``None`` without locating evidence (that case has its own warning) or when confident."""
    province, city, district = claimed
    if belief.evidence_count == 0 or province is None:
        return None
    share = (belief.mass(city) + (belief.mass(district) if district else 0.0)) if city \
        else belief.mass(province)
    if share >= LOW_CONFIDENCE:
        return None
    (leader, p), = belief.top_districts(1)
    named = index.label(district or city or province)
    return (f"low confidence: the evidence gives {named} {pct(share)} (city + district); "
            f"the belief's most likely district is {index.label(leader)} ({pct(p)})")

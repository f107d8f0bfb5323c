"""Verification: pure checks of a submitted answer against the evidence and the region data.

The checks weigh evidence, not only its presence: an acknowledged conflict is accepted when the
belief (every item fused) holds more in the claimed region than where the contradicting item
points, and a claim the belief all but rules out while another region holds most of it is sent
back with the numbers. So one weak item (text that slipped past the injection detector, a
misread sign) cannot carry an answer against two strong ones.
"""

from __future__ import annotations

from sinoloc.agent.fusion import Belief, fuse, support_vector, supports
from sinoloc.agent.reasoning.knowledge_check import knowledge_conflicts
from sinoloc.agent.schemas import Answer, Check, Verdict
from sinoloc.prompts import render_prompt
from sinoloc.tools.evidence import Evidence, EvidenceKind
from sinoloc.tools.knowledge.corpus import get_corpus
from sinoloc.tools.knowledge.retrieval import KnowledgeIndex, get_knowledge_index
from sinoloc.tools.regions import Level, Region, RegionIndex

STRONG_EVIDENCE = 0.85  # weight × confidence from which a contradiction must be explained
NEGLIGIBLE_SHARE = 0.01  # a claimed region with less of the belief than this is all but ruled out
DOMINANT_SHARE = 0.5  # … when another region at its level holds at least this much


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
    if answer.district and (city or province) is not None:
        districts = index.lookup(answer.district, level=Level.DISTRICT, within=city or province)
        district = districts[0] if districts else None
        if district is None:
            problems.append(f"district {answer.district!r} is not in {(city or province).name}")
        elif city is None:
            city = index.city_of(district)
    return [province, city, district], problems


def verify(answer: Answer, evidence: list[Evidence], index: RegionIndex,
           round_no: int = 1, max_rounds: int = 3,
           knowledge: KnowledgeIndex | None = None) -> Verdict:
    """Check ``answer``. ``knowledge`` (loaded on demand when the answer has observations or
    the evidence includes knowledge-base clues) checks what was seen against the claim."""
    checks: list[Check] = []
    (province, city, district), problems = resolve_answer(answer, index)
    checks.append(Check(name="admin_chain", passed=not problems, message="; ".join(problems)))

    deepest = district or city or province
    if deepest is not None:
        inside = index.reverse(answer.lon, answer.lat)
        ok = inside is not None and index.is_within(inside, deepest)
        where = index.label(inside) if inside is not None else "no district (sea or abroad)"
        checks.append(Check(name="point_in_region", passed=ok, message="" if ok else (
            f"({answer.lat:.5f}, {answer.lon:.5f}) lies in {where}, not in {index.label(deepest)}")))

    by_id = {e.id: e for e in evidence}
    cited = {
        Level.PROVINCE: (province, answer.province_evidence),
        Level.CITY: (city, answer.city_evidence),
        Level.DISTRICT: (district, answer.district_evidence),
    }
    missing = sorted({i for _, ids in cited.values() for i in ids if i not in by_id})
    checks.append(Check(name="citations_exist", passed=not missing,
                        message=f"unknown evidence ids: {', '.join(missing)}" if missing else ""))

    unsupported = []
    for level, (region, ids) in cited.items():
        if region is None:
            continue
        for i in ids:
            if i in by_id and not supports(by_id[i], region, index):
                unsupported.append(f"{i} does not point into {region.name} ({level.value})")
    checks.append(Check(name="citations_support_claims", passed=not unsupported,
                        message="; ".join(unsupported)))

    # the visual prior may be cited but need not be, and never contradicts: it is a start
    locating = [e for e in evidence if e.kind is not EvidenceKind.PRIOR]
    uncited = [lvl.value for lvl, (region, ids) in cited.items()
               if region is not None and not ids and any(
                   supports(e, region, index) for e in locating)]
    checks.append(Check(name="claims_cite_evidence", passed=not uncited, message=(
        f"levels with supporting evidence but no citation: {', '.join(uncited)}"
        if uncited else "")))

    conflicts = []
    backed = False
    belief = fuse(evidence, index) if deepest is not None else None
    if belief is not None:
        checks.append(_claim_share_check([province, city, district], belief, locating, index))
    if deepest is not None:
        cited_ids = {i for _, ids in cited.values() for i in ids if i in by_id}
        # an explanation of a conflict counts only when the answer has evidence of its own
        backed = any(supports(by_id[i], deepest, index) for i in cited_ids
                     if by_id[i].kind is not EvidenceKind.PRIOR)
        for item in locating:
            if item.effective_weight < STRONG_EVIDENCE:
                continue
            if supports(item, deepest, index):
                continue
            explained = item.id in answer.acknowledged_conflicts
            claim, against = _claim_against(item, deepest, belief, index)
            if explained and backed and claim > against:
                continue
            if explained and backed:
                why = (f"; it is acknowledged, but the evidence outweighs the explanation: the "
                       f"belief holds {_pct(claim)} in {index.label(deepest)} against "
                       f"{_pct(against)} where {item.id} points")
            elif explained:
                why = f"; it is acknowledged, but no cited evidence supports {index.label(deepest)}"
            else:
                why = ""
            conflicts.append(f"{item.id} ({item.kind.value}: {item.detail or item.text}) "
                             f"contradicts {index.label(deepest)}" + why)
    checks.append(Check(name="no_unexplained_contradiction", passed=not conflicts,
                        message="; ".join(conflicts)))

    seen = [e for e in evidence if e.knowledge_id]
    if deepest is not None and (answer.observations or seen):
        if answer.observations:  # retrieval (jieba + BM25) only when there is text to match
            knowledge = knowledge or get_knowledge_index()
        corpus = knowledge.corpus if knowledge is not None else get_corpus()
        clashes = knowledge_conflicts(answer, deepest, seen, corpus, backed,
                                      knowledge.best_match if knowledge is not None else None)
        checks.append(Check(name="observations_consistent", passed=not clashes,
                            message="; ".join(clashes)))

    accepted = all(c.passed for c in checks)
    feedback = "" if accepted else render_prompt(
        "verify_feedback", round=round_no, max_rounds=max_rounds,
        failures="\n".join(f"- {c.name}: {c.message}" for c in checks if not c.passed))
    return Verdict(accepted=accepted, checks=checks, feedback=feedback, round=round_no)


def _pct(p: float) -> str:
    if p < 0.0001:
        return "< 0.01 %"
    return f"{100 * p:.2f} %" if p < 0.1 else f"{100 * p:.0f} %"


def _claim_against(item: Evidence, claimed: Region, belief: Belief,
                   index: RegionIndex) -> tuple[float, float]:
    """The belief's mass in the claimed region, and where ``item`` points outside it."""
    inside = index.district_mask(claimed)
    where = (support_vector(item, index) > 0) & ~inside
    return belief.mass(claimed), float(belief.probs[where].sum())


def _claim_share_check(claimed: list[Region | None], belief: Belief, locating: list[Evidence],
                       index: RegionIndex) -> Check:
    """Fails when a claimed level holds a negligible share of the belief while another region
    of that level holds most of it (from the shallowest level that does); the message gives
    both shares and the evidence behind the leader. The visual prior alone decides nothing."""
    if belief.evidence_count == 0:
        return Check(name="claim_not_ruled_out", passed=True)
    for level, region in zip((Level.PROVINCE, Level.CITY, Level.DISTRICT), claimed, strict=True):
        if region is None:
            continue
        share = belief.mass(region)
        if share >= NEGLIGIBLE_SHARE:
            continue
        marginal = belief.marginal(level)
        leader_code = max(marginal, key=marginal.get)
        leader = index.get(leader_code, level)
        if leader is None or leader_code == region.adcode or marginal[leader_code] < DOMINANT_SHARE:
            continue
        behind = [e.id for e in locating if supports(e, leader, index)][:6]
        return Check(name="claim_not_ruled_out", passed=False, message=(
            f"the evidence all but rules out {index.label(region)}: the belief gives it "
            f"{_pct(share)}, while {index.label(leader)} holds {_pct(marginal[leader_code])}"
            + (f" ({', '.join(behind)} point there)" if behind else "")))
    return Check(name="claim_not_ruled_out", passed=True)


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
    return (f"low confidence: the evidence gives {named} {_pct(share)} (city + district); "
            f"the belief's most likely district is {index.label(leader)} ({_pct(p)})")

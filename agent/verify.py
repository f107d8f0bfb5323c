"""Verification: pure checks of a submitted answer against the evidence and the region data."""

from __future__ import annotations

from ..prompts import render_prompt
from ..tools.evidence import Evidence, EvidenceKind
from ..tools.knowledge.corpus import get_corpus
from ..tools.knowledge.retrieval import KnowledgeIndex, get_knowledge_index
from ..tools.regions import Level, Region, RegionIndex
from .fusion import supports
from .knowledge_check import knowledge_conflicts
from .schemas import Answer, Check, Verdict

STRONG_EVIDENCE = 0.85  # weight × confidence from which a contradiction must be explained


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
            if explained and backed:
                continue
            conflicts.append(f"{item.id} ({item.kind.value}: {item.detail or item.text}) "
                             f"contradicts {index.label(deepest)}" + (
                                 "; it is acknowledged, but no cited evidence supports "
                                 f"{index.label(deepest)}" if explained else ""))
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

"""The checks verify runs on a submitted answer, one small pure function each.

Each takes the :class:`Claim` (the answer resolved against the region data, with the evidence
and the fused belief) and returns a :class:`Check`, or None where it does not apply (no region
resolved, no knowledge seen). The checks weigh evidence, not only its presence: an acknowledged
conflict is accepted when the belief (every item fused) holds more in the claimed region than
where the contradicting item points, and a claim the belief all but rules out while another
region holds most of it is sent back with the numbers. So one weak item (text that slipped past
the injection detector, a misread sign) cannot carry an answer against two strong ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sinoloc.agent.reasoning.knowledge_check import knowledge_conflicts
from sinoloc.agent.schemas import Answer, Check
from sinoloc.tools.evidence import Evidence, EvidenceKind
from sinoloc.tools.fusion import Belief, fuse, support_vector, supports
from sinoloc.tools.knowledge.corpus import get_corpus
from sinoloc.tools.knowledge.retrieval import KnowledgeIndex, get_knowledge_index
from sinoloc.tools.regions import Level, Region, RegionIndex

STRONG_EVIDENCE = 0.85  # weight × confidence from which a contradiction must be explained
NEGLIGIBLE_SHARE = 0.01  # a claimed region with less of the belief than this is all but ruled out
DOMINANT_SHARE = 0.5  # … when another region at its level holds at least this much
LEVELS = (Level.PROVINCE, Level.CITY, Level.DISTRICT)


@dataclass
class Claim:
    """An answer resolved against the region data, with what it is checked against."""

    answer: Answer
    regions: list[Region | None]  # [province, city, district] as resolved (None: not found)
    problems: list[str]  # names that did not resolve
    evidence: list[Evidence]
    index: RegionIndex
    knowledge: KnowledgeIndex | None = None
    by_id: dict[str, Evidence] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.evidence}

    @property
    def deepest(self) -> Region | None:
        province, city, district = self.regions
        return district or city or province

    @property
    def cited(self) -> dict[Level, tuple[Region | None, list[str]]]:
        """Each level's claimed region and the evidence ids cited for it."""
        a = self.answer
        ids = (a.province_evidence, a.city_evidence, a.district_evidence)
        return {lvl: (region, list(i)) for lvl, region, i in zip(LEVELS, self.regions, ids,
                                                                 strict=True)}

    @property
    def locating(self) -> list[Evidence]:
        """Evidence that locates: the visual prior may be cited but need not be, and never
        contradicts (it is a start)."""
        return [e for e in self.evidence if e.kind is not EvidenceKind.PRIOR]

    @cached_property
    def belief(self) -> Belief | None:
        return fuse(self.evidence, self.index) if self.deepest is not None else None

    @property
    def backed(self) -> bool:
        """Whether the answer cites evidence of its own (not the prior) for its deepest region:
        only then does an explanation of a conflict count."""
        deepest = self.deepest
        if deepest is None:
            return False
        cited_ids = {i for _, ids in self.cited.values() for i in ids if i in self.by_id}
        return any(supports(self.by_id[i], deepest, self.index) for i in cited_ids
                   if self.by_id[i].kind is not EvidenceKind.PRIOR)


def admin_chain(claim: Claim) -> Check:
    return Check(name="admin_chain", passed=not claim.problems, message="; ".join(claim.problems))


def point_in_region(claim: Claim) -> Check | None:
    deepest, index, answer = claim.deepest, claim.index, claim.answer
    if deepest is None:
        return None
    inside = index.reverse(answer.lon, answer.lat)
    ok = inside is not None and index.is_within(inside, deepest)
    where = index.label(inside) if inside is not None else "no district (sea or abroad)"
    return Check(name="point_in_region", passed=ok, message="" if ok else (
        f"({answer.lat:.5f}, {answer.lon:.5f}) lies in {where}, not in {index.label(deepest)}"))


def citations_exist(claim: Claim) -> Check:
    missing = sorted({i for _, ids in claim.cited.values() for i in ids if i not in claim.by_id})
    return Check(name="citations_exist", passed=not missing,
                 message=f"unknown evidence ids: {', '.join(missing)}" if missing else "")


def citations_support_claims(claim: Claim) -> Check:
    unsupported = [f"{i} does not point into {region.name} ({level.value})"
                   for level, (region, ids) in claim.cited.items() if region is not None
                   for i in ids
                   if i in claim.by_id and not supports(claim.by_id[i], region, claim.index)]
    return Check(name="citations_support_claims", passed=not unsupported,
                 message="; ".join(unsupported))


def claims_cite_evidence(claim: Claim) -> Check:
    uncited = [lvl.value for lvl, (region, ids) in claim.cited.items()
               if region is not None and not ids and any(
                   supports(e, region, claim.index) for e in claim.locating)]
    return Check(name="claims_cite_evidence", passed=not uncited, message=(
        f"levels with supporting evidence but no citation: {', '.join(uncited)}"
        if uncited else ""))


def claim_not_ruled_out(claim: Claim) -> Check | None:
    """Fails when a claimed level holds a negligible share of the belief while another region
    of that level holds most of it (from the shallowest level that does); the message gives
    both shares and the evidence behind the leader. The visual prior alone decides nothing."""
    belief, index = claim.belief, claim.index
    if belief is None:
        return None
    if belief.evidence_count == 0:
        return Check(name="claim_not_ruled_out", passed=True)
    for level, region in zip(LEVELS, claim.regions, strict=True):
        if region is None:
            continue
        share = belief.mass(region)
        if share >= NEGLIGIBLE_SHARE:
            continue
        marginal = belief.marginal(level)
        leader_code = max(marginal, key=lambda code: marginal[code])
        leader = index.get(leader_code, level)
        if leader is None or leader_code == region.adcode or marginal[leader_code] < DOMINANT_SHARE:
            continue
        behind = [e.id for e in claim.locating if supports(e, leader, index)][:6]
        return Check(name="claim_not_ruled_out", passed=False, message=(
            f"the evidence all but rules out {index.label(region)}: the belief gives it "
            f"{pct(share)}, while {index.label(leader)} holds {pct(marginal[leader_code])}"
            + (f" ({', '.join(behind)} point there)" if behind else "")))
    return Check(name="claim_not_ruled_out", passed=True)


def no_unexplained_contradiction(claim: Claim) -> Check:
    """Strong evidence pointing elsewhere must be acknowledged, by an answer with evidence of
    its own, and outweighed in the belief."""
    deepest, index, belief = claim.deepest, claim.index, claim.belief
    conflicts: dict[str, str] = {}  # evidence id -> what is wrong
    if deepest is not None and belief is not None:
        backed = claim.backed
        for item in claim.locating:
            if item.effective_weight < STRONG_EVIDENCE or supports(item, deepest, index):
                continue
            why = _unexplained(item, claim, deepest, belief, backed)
            if why is not None:
                conflicts[item.id] = (f"{item.id} ({item.kind.value}: {item.detail or item.text}) "
                                      f"contradicts {index.label(deepest)}" + why)
    return Check(name="no_unexplained_contradiction", passed=not conflicts,
                 message="; ".join(conflicts.values()), evidence_ids=list(conflicts))


def _unexplained(item: Evidence, claim: Claim, deepest: Region, belief: Belief,
                 backed: bool) -> str | None:
    """None when ``item``'s contradiction is explained and outweighed; else the reason text
    (empty when it is not acknowledged at all)."""
    explained = item.id in claim.answer.acknowledged_conflicts
    index = claim.index
    claimed, against = claim_against(item, deepest, belief, index)
    if explained and backed and claimed > against:
        return None
    if explained and backed:
        return (f"; it is acknowledged, but the evidence outweighs the explanation: the "
                f"belief holds {pct(claimed)} in {index.label(deepest)} against "
                f"{pct(against)} where {item.id} points")
    if explained:
        return f"; it is acknowledged, but no cited evidence supports {index.label(deepest)}"
    return ""


def observations_consistent(claim: Claim) -> Check | None:
    """What was seen (the answer's observations, knowledge-base clues among the evidence)
    must fit the claimed region. Retrieval (jieba + BM25) loads only when there is text."""
    deepest, answer = claim.deepest, claim.answer
    seen = [e for e in claim.evidence if e.knowledge_id]
    if deepest is None or not (answer.observations or seen):
        return None
    knowledge = claim.knowledge
    if answer.observations:
        knowledge = knowledge or get_knowledge_index()
    corpus = knowledge.corpus if knowledge is not None else get_corpus()
    clashes = knowledge_conflicts(answer, deepest, seen, corpus, claim.backed,
                                  knowledge.best_match if knowledge is not None else None)
    return Check(name="observations_consistent", passed=not clashes, message="; ".join(clashes))


# in the order their results are reported
CHECKS: tuple[Callable[[Claim], Check | None], ...] = (
    admin_chain, point_in_region, citations_exist, citations_support_claims,
    claims_cite_evidence, claim_not_ruled_out, no_unexplained_contradiction,
    observations_consistent)


def pct(p: float) -> str:
    if p < 0.0001:
        return "< 0.01 %"
    return f"{100 * p:.2f} %" if p < 0.1 else f"{100 * p:.0f} %"


def claim_against(item: Evidence, claimed: Region, belief: Belief,
                  index: RegionIndex) -> tuple[float, float]:
    """The belief's mass in the claimed region, and where ``item`` points outside it."""
    inside = index.district_mask(claimed)
    where = (support_vector(item, index) > 0) & ~inside
    return belief.mass(claimed), float(belief.probs[where].sum())

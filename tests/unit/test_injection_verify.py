"""Verification weighs evidence against an injected claim: a weak item does not carry an acknowledged
conflict, a claim the belief rules out is sent back with the numbers."""

import re

from sinoloc.agent.reasoning.verify import low_confidence_warning, verify
from sinoloc.agent.schemas import Answer
from sinoloc.tools.evidence import Evidence, EvidenceKind, RegionSupport
from sinoloc.tools.fusion import fuse


def ev(i, kind, adcode, level, weight, conf=1.0):
    return Evidence(id=f"E{i}", kind=kind, text=adcode, source="test", weight=weight,
                    confidence=conf, regions=[RegionSupport(level=level, adcode=adcode,
                                                            name=adcode, weight=1.0)])


def dongcheng_answer(cite: list[str], acknowledge: list[str]) -> Answer:
    return Answer(province="北京市", city="北京市", district="东城区", lat=39.9288, lon=116.4164,
                  province_evidence=cite, city_evidence=cite, district_evidence=cite,
                  acknowledged_conflicts={i: "the notice says so" for i in acknowledge})


def test_a_weak_item_does_not_carry_an_acknowledged_conflict(regions):
    """The issue's numbers: one item at 0.49 for 东城区 against 0.92 and 0.88 for 南京."""
    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "320106", "district", 0.92),
                ev(2, EvidenceKind.PHONE, "320100", "city", 0.88),
                ev(3, EvidenceKind.OCR_ADDRESS, "110101", "district", 0.49)]
    verdict = verify(dongcheng_answer(["E3"], ["E1", "E2"]), evidence, regions)
    assert not verdict.accepted
    failed = {c.name: c.message for c in verdict.checks if not c.passed}
    assert "the belief holds" in failed["no_unexplained_contradiction"]
    assert "E1" in failed["no_unexplained_contradiction"]
    assert "江苏省" in failed["claim_not_ruled_out"] and "%" in failed["claim_not_ruled_out"]


def test_a_contradiction_carries_its_evidence_ids_and_the_fused_answer_reads_them(regions):
    """The ids travel as data (not searched for in the message text): the fused answer
    acknowledges exactly the items the check names, and a dump without ids stays as it was."""
    from sinoloc.agent.reasoning.answering import fused_answer
    from sinoloc.agent.schemas import Check, Verdict

    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "320106", "district", 0.92),
                ev(2, EvidenceKind.PHONE, "320100", "city", 0.88),
                ev(3, EvidenceKind.OCR_ADDRESS, "110101", "district", 0.49)]
    verdict = verify(dongcheng_answer(["E3"], []), evidence, regions)
    check = next(c for c in verdict.checks if c.name == "no_unexplained_contradiction")
    assert check.evidence_ids == ["E1", "E2"]
    assert Verdict.model_validate(verdict.model_dump(mode="json")) == verdict  # through the state
    # a message that merely mentions an id is not a contradiction of it
    decoy = Verdict(accepted=False, round=1, checks=[Check(
        name="no_unexplained_contradiction", passed=False, message="E2 (phone) E3 (ocr)",
        evidence_ids=["E1"])])
    answer, _, _ = fused_answer(evidence, regions, decoy)
    assert set(answer.acknowledged_conflicts) == {"E1"}
    assert "evidence_ids" not in Check(name="x", passed=True).model_dump()


def test_an_acknowledged_conflict_passes_when_the_claim_outweighs_it(regions):
    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "110101", "district", 0.97),
                ev(2, EvidenceKind.EXIF_GPS, "110101", "district", 0.95),
                ev(3, EvidenceKind.PHONE, "320100", "city", 0.9)]
    verdict = verify(dongcheng_answer(["E1", "E2"], ["E3"]), evidence, regions)
    assert verdict.accepted, [c for c in verdict.checks if not c.passed]


def test_a_claim_the_belief_rules_out_is_sent_back_with_the_numbers(regions):
    """No strong item contradicts it (each is under 0.85), yet together they leave 东城区
    almost nothing: the new check catches what the contradiction check cannot."""
    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "320106", "district", 0.8),
                ev(2, EvidenceKind.PHONE, "320100", "city", 0.8),
                ev(3, EvidenceKind.PLATE, "320000", "province", 0.8)]
    verdict = verify(dongcheng_answer([], []), evidence, regions)
    check = next(c for c in verdict.checks if c.name == "claim_not_ruled_out")
    assert not check.passed and "北京市" in check.message and "江苏省" in check.message
    assert re.search(r"gives it (?:< )?[\d.]+ %, while 江苏省 holds \d+ %", check.message)
    assert next(c for c in verdict.checks if c.name == "no_unexplained_contradiction").passed


def test_low_confidence_warning_only_when_the_claim_is_weak(regions):
    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "320106", "district", 0.92),
                ev(2, EvidenceKind.PHONE, "320100", "city", 0.88)]
    belief = fuse(evidence, regions)
    beijing = [regions.get("110000", "province"), regions.get("110100", "city"),
               regions.get("110101", "district")]
    nanjing = [regions.get("320000", "province"), regions.get("320100", "city"),
               regions.get("320106", "district")]
    assert "南京市鼓楼区" in low_confidence_warning(belief, beijing, regions).replace(" ", "")
    assert low_confidence_warning(belief, nanjing, regions) is None
    assert low_confidence_warning(fuse([], regions), beijing, regions) is None  # prior only

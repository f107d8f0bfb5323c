import pytest

from sinoloc.agent.reasoning.answering import fused_answer
from sinoloc.agent.reasoning.verify import verify
from sinoloc.agent.schemas import Answer
from sinoloc.tools.evidence import Evidence, EvidenceKind, PointSupport, RegionSupport
from sinoloc.tools.fusion import decide, fuse


def ev(i, kind, adcode, level, weight, conf=1.0):
    return Evidence(id=f"E{i}", kind=kind, text=adcode, source="test", weight=weight,
                    confidence=conf, regions=[RegionSupport(level=level, adcode=adcode,
                                                            name=adcode, weight=1.0)])


def test_no_evidence_is_prior_only(regions):
    belief = fuse([], regions)
    assert belief.evidence_count == 0
    decision = decide(belief, [])
    assert decision.anchor_level is None and decision.confidence_province < 0.2
    assert regions.reverse(decision.lon, decision.lat).adcode == decision.district_adcode


def test_agreeing_evidence_decides_district(regions):
    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "330106", "district", 0.97),
                ev(2, EvidenceKind.PHONE, "330100", "city", 0.93)]
    belief = fuse(evidence, regions)
    decision = decide(belief, evidence)
    assert decision.district_adcode == "330106" and decision.anchor_level == "district"
    assert decision.confidence_city > 0.9
    assert regions.contains(regions.get("330106", "district"), decision.lon, decision.lat)


def test_province_only_evidence_names_the_likeliest_city_with_a_point_inside(regions):
    evidence = [ev(1, EvidenceKind.PLATE, "540000", "province", 0.8)]
    belief = fuse(evidence, regions)
    decision = decide(belief, evidence)
    assert decision.anchor_level == "province"
    district = regions.get(decision.district_adcode, "district")
    cities = {c: p for c, p in belief.marginal("city").items() if c.startswith("54")}
    assert district.province_adcode == "540000"
    assert district.city_adcode == max(cities, key=cities.get)  # not a city ranked below another
    assert regions.reverse(decision.lon, decision.lat).adcode == decision.district_adcode


def test_point_evidence_sets_coordinates(regions):
    evidence = [Evidence(id="E1", kind=EvidenceKind.EXIF_GPS, text="gps", source="exif",
                         point=PointSupport(lat=30.26, lon=120.13, radius_km=0.05), weight=0.999)]
    decision = decide(fuse(evidence, regions), evidence)
    assert (decision.lat, decision.lon) == (30.26, 120.13)  # E1's point
    assert decision.precision_km == pytest.approx(0.05)


def test_verify_accepts_fused_answer(regions):
    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "330106", "district", 0.97)]
    answer, _, _ = fused_answer(evidence, regions)
    verdict = verify(answer, evidence, regions)
    assert verdict.accepted, verdict.checks


def test_verify_rejects_point_outside_district_and_bad_citations(regions):
    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "330106", "district", 0.97)]
    answer = Answer(province="浙江省", city="杭州市", district="西湖区", lat=39.9, lon=116.4,
                    province_evidence=["E1"], city_evidence=["E1"], district_evidence=["E9"])
    verdict = verify(answer, evidence, regions)
    failed = {c.name for c in verdict.checks if not c.passed}
    assert {"point_in_region", "citations_exist"} <= failed
    assert "submit_answer" in verdict.feedback


def test_verify_flags_unexplained_contradiction_then_accepts_explanation(regions):
    evidence = [ev(1, EvidenceKind.OCR_ADDRESS, "330106", "district", 0.97),
                ev(2, EvidenceKind.PHONE, "320100", "city", 0.93)]  # 南京 landline
    answer, _, _ = fused_answer(evidence, regions)
    verdict = verify(answer, evidence, regions)
    assert not verdict.accepted
    assert any(c.name == "no_unexplained_contradiction" and "E2" in c.message
               for c in verdict.checks)
    answer2, _, _ = fused_answer(evidence, regions, verdict)
    assert "E2" in answer2.acknowledged_conflicts
    assert verify(answer2, evidence, regions, round_no=2).accepted


def test_verify_rejects_inconsistent_chain(regions):
    answer = Answer(province="浙江省", city="南京市", lat=30.26, lon=120.13)
    verdict = verify(answer, [], regions)
    assert any(c.name == "admin_chain" and not c.passed for c in verdict.checks)

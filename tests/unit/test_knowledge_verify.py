"""Verify and knowledge evidence: a knowledge item's conflict is flagged, and an acknowledgement
backed by evidence passes."""

from sinoloc.agent.reasoning.verify import verify
from sinoloc.agent.schemas import Answer
from sinoloc.tools.evidence import Evidence, EvidenceKind, RegionSupport


def test_verify_flags_knowledge_evidence_and_accepts_a_backed_acknowledgement(regions):
    look_right = Evidence(id="E1", kind=EvidenceKind.KNOWLEDGE, text="望右 LOOK RIGHT",
                          source="clues:…", knowledge_id="road-marking-look-right",
                          regions=[RegionSupport(level="province", adcode="810000",
                                                 name="香港特别行政区", weight=1.0)],
                          weight=0.9, confidence=0.8)
    address = Evidence(id="E2", kind=EvidenceKind.OCR_ADDRESS, text="深圳市福田区",
                       source="clues:…", weight=0.95, confidence=0.95,
                       regions=[RegionSupport(level="district", adcode="440304",
                                              name="深圳市福田区", weight=1.0)])
    shenzhen = Answer(province="广东省", city="深圳市", district="福田区", lat=22.5431,
                      lon=114.0579)

    def failed(answer, evidence):
        verdict = verify(answer, evidence, regions)
        return {c.name: c.message for c in verdict.checks if not c.passed}

    problems = failed(shenzhen, [look_right])
    assert "occurs only in 香港特别行政区" in problems["observations_consistent"]
    # acknowledged without evidence of its own: still a contradiction
    unbacked = shenzhen.model_copy(update={"acknowledged_conflicts": {"E1": "a tourist sign"}})
    assert "observations_consistent" in failed(unbacked, [look_right])
    backed = unbacked.model_copy(update={
        "province_evidence": ["E2"], "city_evidence": ["E2"], "district_evidence": ["E2"]})
    assert "observations_consistent" not in failed(backed, [look_right, address])
    hong_kong = Answer(province="香港特别行政区", city="香港特别行政区", district="湾仔区",
                       lat=22.2793, lon=114.1747, province_evidence=["E1"],
                       city_evidence=["E1"], district_evidence=["E1"])
    assert failed(hong_kong, [look_right]) == {}

"""The pure half of human review and corrections: decisions checked, places and clues resolved,
contradictions found, the sign text a correction is promoted with."""

import pytest
from pydantic import ValidationError

from sinoloc.agent.corrections import Correction, CorrectionsError, sign_pattern
from sinoloc.agent.review import (
    USER_CLUE_WEIGHT,
    ReviewDecision,
    ReviewRefused,
    clue_evidence,
    contradictions,
    resolve_place,
)
from sinoloc.tools.clues.schema import RegionSupport
from sinoloc.tools.evidence import Evidence, EvidenceKind


@pytest.mark.parametrize("decision, missing", [
    ({"action": "edit"}, "edit needs place"), ({"action": "reject", "reason": "  "},
                                               "reject needs reason"),
    ({"action": "clue"}, "clue needs clue"), ({"action": "edit", "place": "苏州", "lat": 31.0},
                                              "both lat and lon"),
])
def test_incomplete_decisions_are_refused(decision, missing):
    with pytest.raises(ValidationError, match=missing):
        ReviewDecision.model_validate(decision)


def test_unknown_actions_and_long_text_are_refused():
    with pytest.raises(ValidationError):
        ReviewDecision.model_validate({"action": "commit"})
    with pytest.raises(ValidationError):
        ReviewDecision.model_validate({"action": "clue", "clue": "苏" * 501})


def test_places_resolve_by_names_or_adcode(regions):
    assert resolve_place("江苏省苏州市姑苏区", regions).adcode == "320508"
    assert resolve_place("320500", regions).name == "苏州市"
    assert resolve_place("苏州", regions).adcode == "320500"
    with pytest.raises(ReviewRefused, match="names no"):
        resolve_place("the moon", regions)
    with pytest.raises(ReviewRefused, match="ambiguous"):
        resolve_place("朝阳区", regions)  # 北京 and 长春


@pytest.mark.parametrize("text, adcode", [
    ("这是苏州", "320500"), ("that's a 粤 plate", "440000"), ("苏E·12345 on the bus", "320500"),
    ("it is in Guangdong", "440000"), ("电话0571-88886666", "330100"),
])
def test_clues_become_strong_user_clue_evidence(text, adcode, regions):
    item = clue_evidence(text, regions)
    assert item.kind is EvidenceKind.USER_CLUE and item.weight == USER_CLUE_WEIGHT
    assert adcode in {r.adcode for r in item.regions}
    assert item.text == text and item.source == "user:review"


def test_a_clue_naming_nothing_is_refused(regions):
    with pytest.raises(ReviewRefused, match="names no place"):
        clue_evidence("it's in the south, near the sea", regions)


def _evidence(id_: str, adcode: str, level: str, weight: float, kind=EvidenceKind.PHONE):
    return Evidence(id=id_, kind=kind, text=adcode, source="test", weight=weight,
                    regions=[RegionSupport(level=level, adcode=adcode, name=adcode, weight=1.0)])


def test_contradictions_are_only_evidence_at_least_as_strong_pointing_elsewhere(regions):
    clue = clue_evidence("江苏省苏州市", regions).model_copy(update={"id": "E9"})
    items = [_evidence("E1", "330100", "city", 0.95),  # 杭州, stronger: contradicts
             _evidence("E2", "330100", "city", 0.5),  # weaker: weighed, not a contradiction
             _evidence("E3", "320000", "province", 0.95),  # 江苏: agrees
             _evidence("E4", "330000", "province", 0.95, EvidenceKind.PRIOR)]  # the prior: never
    found = contradictions(clue, items, regions)
    assert len(found) == 1 and found[0].startswith("E1 (phone")


def _correction(texts):
    return Correction(id="c-0123456789-1", image_sha256="0" * 64, truth="江苏省苏州市姑苏区",
                      truth_adcode="320508", truth_level="district", texts=texts, at=0.0)


def test_the_promoted_sign_text_is_the_longest_that_is_not_a_place_or_taken(regions):
    item = _correction(["欢迎光临", "老王记牛肉面", "苏州市", "0512-6666", "南方电网"])
    assert sign_pattern(item, set()) == "老王记牛肉面"
    assert sign_pattern(item, {"老王记牛肉面"}) == "欢迎光临"
    with pytest.raises(CorrectionsError, match="--pattern"):
        sign_pattern(_correction(["苏州市", "12"]), set())


def test_corrections_are_validated_records():
    with pytest.raises(ValidationError):
        Correction.model_validate({**_correction([]).model_dump(), "truth_adcode": "32"})
    with pytest.raises(ValidationError):
        Correction.model_validate({**_correction([]).model_dump(), "image_sha256": "XYZ"})

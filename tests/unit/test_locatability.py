"""Locatability: the score's parts, its use for the model budget, and in evaluation."""

import math

import pytest

from sinoloc.agent.reasoning.locatability import band_of, locatability, model_call_budget
from sinoloc.eval import metrics as m
from sinoloc.eval.scoring import locatability_stats, slice_key
from sinoloc.tools.evidence import Evidence, EvidenceKind

SPAN = {"span_id": "T1", "text": "杭州市西湖区文三路138号", "score": 1.0, "view_id": "full"}


def evidence(kind=EvidenceKind.OCR_ADDRESS, weight=0.97, confidence=0.95, regions=None):
    return Evidence(id="E1", kind=kind, text="x", source="test", weight=weight,
                    confidence=confidence, detail="", trace="",
                    regions=regions or [{"level": "district", "adcode": "330106",
                                         "name": "西湖区", "weight": 1.0}])


def test_nothing_to_see_is_zero_and_low():
    located = locatability([], [])
    assert located.score == 0.0 and located.band == "low"
    assert set(located.components) == {"text", "clues"}  # no prior ran: not counted


def test_text_alone_is_modest_and_saturates():
    some = locatability([], [SPAN]).score
    lots = locatability([], [SPAN, {**SPAN, "text": "电话0571-88886666"},
                             {**SPAN, "text": "欢迎光临 本店经营各类日用百货 量大从优"}]).score
    assert 0.1 < some < lots < 0.35  # text that locates nothing stays below "medium"
    blurred = locatability([], [{**SPAN, "score": 0.3}]).score
    assert blurred < some
    twice = locatability([], [SPAN, {**SPAN, "view_id": "right"}]).score
    assert twice == some  # the same line read in two views counts once


def test_clues_decide_and_combine_as_noisy_or():
    one = locatability([evidence()], [SPAN])
    assert one.band == "high" and one.score > 0.85
    weak = locatability([evidence(weight=0.3, confidence=0.5)], [])
    assert weak.components["clues"] == pytest.approx(0.15)
    two = locatability([evidence(weight=0.3, confidence=0.5)] * 2, [])
    assert two.components["clues"] == pytest.approx(1 - 0.85 ** 2, abs=1e-4)


def test_prior_counts_when_it_ran():
    prior = evidence(kind=EvidenceKind.PRIOR, weight=0.5, confidence=1.0, regions=[
        {"level": "province", "adcode": "330000", "name": "浙江省", "weight": 0.8},
        {"level": "province", "adcode": "320000", "name": "江苏省", "weight": 0.2}])
    located = locatability([prior], [])
    assert located.components == {"text": 0.0, "clues": 0.0, "prior": 0.8}
    assert located.score == pytest.approx(0.6 * 0.8)


def test_bands_and_budget():
    assert [band_of(x) for x in (0.0, 0.19, 0.2, 0.59, 0.6, 1.0)] == \
        ["low", "low", "medium", "medium", "high", "high"]
    assert model_call_budget(12, 0.0, True) == 5 and model_call_budget(12, 1.0, True) == 12
    assert model_call_budget(4, 0.0, True) == 3 and model_call_budget(2, 0.0, True) == 2
    assert model_call_budget(12, 0.0, False) == 12 and model_call_budget(12, None, True) == 12


def test_spearman_by_hand():
    assert m.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert m.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties take their average rank: x ranks 1.5 1.5 3 4, y ranks 1 2 3 4
    assert m.spearman([5, 5, 6, 7], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)
    assert math.isnan(m.spearman([1, 1, 1], [1, 2, 3])) and math.isnan(m.spearman([1], [2]))
    with pytest.raises(ValueError):
        m.spearman([1, 2], [1])


def test_eval_slices_and_stats_by_locatability():
    from sinoloc.eval.scoring import ScoredImage

    def image(score, error, hit):
        return ScoredImage(id=str(score), status="ok", answered=True, error_km=error,
                           imputed=False, truth_lat=30, truth_lon=120, truth_province="浙江省",
                           correct={"province": hit, "city": hit, "district": hit},
                           top3={}, named={}, confidence={}, area_to_truth_km2=1.0, score=0.0,
                           seconds=1.0, locatability=score)

    images = [image(0.0, 800, False), image(0.1, 600, False), image(0.7, 5, True),
              image(0.9, 1, True)]
    assert [slice_key(i, "locatability") for i in images] == ["low", "low", "high", "high"]
    stats = locatability_stats(images)
    assert stats.images == 4 and stats.spearman_vs_error_km == pytest.approx(-1.0)
    assert stats.spearman_vs_district_hit > 0.8
    assert locatability_stats([image(None, 1, True)]) is None

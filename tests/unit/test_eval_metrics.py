"""Metric functions against hand-computed examples."""

import math

import numpy as np
import pytest

from sinoloc.eval import metrics as m


def test_geometric_mean_counts_a_zero_error():
    # ln(1+0)=0, ln(1+3)=ln 4, ln(1+15)=ln 16: mean = ln(64)/3 = ln 4, so 4 - 1 = 3
    assert m.geometric_mean_km([0.0, 3.0, 15.0]) == pytest.approx(3.0)
    assert m.geometric_mean_km([0.0, 0.0]) == 0.0
    assert math.isnan(m.geometric_mean_km([]))


def test_mean_median_percentile_and_shares():
    errors = [0.5, 10.0, 200.0, 800.0, 3000.0]
    assert m.mean(errors) == pytest.approx(802.1)
    assert m.median(errors) == 200.0
    assert m.percentile([1, 2, 3, 4], 50) == 2.5
    assert m.percentile([0, 10], 95) == pytest.approx(9.5)
    # "within" includes the threshold itself
    assert [m.share_within(errors, t) for t in m.DISTANCE_THRESHOLDS_KM] == [0.2, 0.4, 0.6, 0.6,
                                                                             0.8]


def test_geoguessr_score_formula():
    assert m.geoguessr_score(0.0) == 5000.0
    assert m.geoguessr_score(m.CHINA_DIAGONAL_KM / 10) == pytest.approx(5000 / math.e)
    assert m.geoguessr_score(100.0, diagonal_km=1000.0) == pytest.approx(5000 * math.exp(-1))
    assert m.geoguessr_score(5000) < m.geoguessr_score(50) < 5000


def test_georeasoner_precision_recall_f1():
    # 10 images, 8 answered, 4 right: accuracy among answers .5, recall .4, F1 = .4/.9
    p, r, f1 = m.precision_recall_f1(answered=8, correct=4, total=10)
    assert (p, r) == (0.5, 0.4)
    assert f1 == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert m.precision_recall_f1(0, 0, 10) == (0.0, 0.0, 0.0)


def test_ranks_break_ties_against_the_truth():
    ranked = [("a", 0.5), ("b", 0.2), ("c", 0.2), ("d", 0.1)]
    assert m.worst_rank(ranked, "a") == 1
    assert m.worst_rank(ranked, "b") == 3 and m.worst_rank(ranked, "c") == 3
    assert m.hit_at_k(ranked, "c", 3) and not m.hit_at_k(ranked, "c", 2)
    assert m.worst_rank(ranked, "x") is None
    # the truth ties with the last listed entry: the tie may go on past the list
    assert m.worst_rank(ranked, "d") is None
    uniform = [("a", 0.001), ("b", 0.001), ("c", 0.001)]
    assert not m.hit_at_k(uniform, "a", 3)


def test_area_to_truth_on_a_toy_region_set():
    ranked = [("a", 0.6, 10.0), ("b", 0.3, 20.0), ("c", 0.05, 30.0), ("d", 0.05, 40.0),
              ("e", 0.0, 5.0)]
    assert m.area_to_truth(ranked, "a", 1000.0) == 10.0
    assert m.area_to_truth(ranked, "b", 1000.0) == 30.0
    # c and d tie: both count, whichever of them is the truth
    assert m.area_to_truth(ranked, "c", 1000.0) == 100.0
    assert m.area_to_truth(ranked, "d", 1000.0) == 100.0
    assert m.area_to_truth(ranked, "zz", 1000.0) == 1000.0
    assert m.area_to_truth(ranked, "e", 1000.0) == 1000.0  # ties with the end of the list


def test_recall_vs_area_curve_and_its_area():
    total = 1e6
    grid = m.rva_grid(total, points=5)  # 10, 100, 1000, 10000, 100000... up to 1e6
    assert grid[0] == pytest.approx(10) and grid[-1] == pytest.approx(total)
    areas = [10.0, 1e4, total, total]
    np.testing.assert_allclose(m.recall_at_areas(areas, [5, 10, 1e4, 1e5, total]),
                               [0, 0.25, 0.5, 0.5, 1.0])
    # half the images found at 10 km², the rest only at the whole map
    auc = m.rva_auc([10.0, total], total, points=60)
    assert auc == pytest.approx((59 * 0.5 + 1.0) / 60)
    assert m.rva_auc([1.0] * 4, total) == 1.0


def test_expected_calibration_error_by_hand():
    # bin 0.9: confidence .9, accuracy .5 -> |.4| x 2/4; bin 0.1: .1 vs 0 -> .1 x 2/4
    confidence, correct = [0.9, 0.9, 0.1, 0.1], [True, False, False, False]
    assert m.expected_calibration_error(confidence, correct) == pytest.approx(0.25)
    bins = m.calibration_bins(confidence, correct)
    assert len(bins) == 10 and bins[9]["count"] == 2 and bins[9]["accuracy"] == 0.5
    assert m.expected_calibration_error([1.0, 1.0], [True, True]) == 0.0  # 1.0 lands in the top bin


def test_bootstrap_interval_is_seeded_and_sensible():
    assert m.bootstrap_ci([3.0] * 20, np.mean) == (3.0, 3.0)
    values = np.random.default_rng(1).normal(100, 10, size=400)
    low, high = m.bootstrap_ci(values, np.mean)
    assert low < values.mean() < high and high - low < 5
    assert m.bootstrap_ci(values, np.mean) == (low, high)
    assert all(math.isnan(x) for x in m.bootstrap_ci([1.0], np.mean))


def test_cluster_bootstrap_resamples_whole_clusters():
    # two clusters of identical images: per-image resampling thinks 200 images pin the mean
    # down; with clusters there are only two independent draws
    values = np.array([0.0] * 100 + [10.0] * 100)
    groups = ["a"] * 100 + ["b"] * 100
    naive = m.bootstrap_ci(values, np.mean)
    clustered = m.bootstrap_ci(values, np.mean, groups=groups)
    assert naive[1] - naive[0] < 2.0
    assert clustered == (0.0, 10.0)  # all-a, all-b and the mixes are all possible
    assert all(math.isnan(x) for x in m.bootstrap_ci(values, np.mean, groups=["a"] * 200))

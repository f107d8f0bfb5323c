"""Comparing runs: paired tests by hand, "no difference" for runs that agree, figures that keep
coinciding runs visible, the too-few-clusters warning, the report's correlation wording and the
headline at the end of `eval run`."""

import math

import numpy as np
import pytest
from test_eval_report import _rows, _write_run

from sinoloc.eval import metrics as m
from sinoloc.eval.paired import identical, paired_section, paired_tests
from sinoloc.eval.plots import curve_styles
from sinoloc.eval.report import _rho, headline_text, write_comparison, write_report
from sinoloc.eval.scoring import ScoredImage, score_row, summarize, total_area


def test_mcnemar_exact_by_hand():
    # discordant pairs: A alone right 3 times, B alone once: p = 2 * P(X <= 1 | n=4) = 2 * 5/16
    assert m.mcnemar([1, 1, 1, 0, 1, 1], [0, 0, 0, 1, 1, 0]) == (4, 1, 0.375)
    assert m.mcnemar([1, 0], [1, 0]) == (0, 0, 1.0)


def test_wilcoxon_signed_rank_by_hand():
    # ten pairs all worse by 1..10: W+ = 55, mean 27.5, var 96.25 → z = (27.5 - 0.5) / 9.81
    n, p = m.wilcoxon_signed_rank(np.arange(1, 11), np.zeros(10))
    assert n == 10
    assert p == pytest.approx(math.erfc((27.5 - 0.5) / math.sqrt(96.25) / math.sqrt(2)))
    assert m.wilcoxon_signed_rank([3, 4], [3, 4]) == (0, 1.0)  # nothing differs


def test_paired_bootstrap_cancels_what_the_images_share():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1000, 200)  # images differ a lot…
    b = a - 5.0                    # …but B is exactly 5 km better on every one
    diff, low, high = m.paired_bootstrap_ci(a, b, np.mean)
    assert diff == pytest.approx(-5.0) and low == pytest.approx(-5.0) and high == pytest.approx(-5.0)


def test_few_clusters_warning():
    assert m.few_clusters_warning(None, None) is None
    assert m.few_clusters_warning(12, "cluster") is None
    assert "only 2 cluster(s) of `cluster`" in m.few_clusters_warning(2, "cluster")


def _scored(regions):
    return [score_row(r, regions) for r in _rows()]


def test_identical_runs_say_no_difference(regions):
    a = _scored(regions)
    assert identical(a, [i.model_copy() for i in a])
    text = "\n".join(paired_section("base", a, "again", a))
    assert "No difference: the runs agree on every one of the 4 images" in text


def test_a_better_run_is_called_better(regions):
    a = _scored(regions)
    better = [ScoredImage.model_validate({**i.model_dump(), "error_km": 0.0,
                                          "correct": {k: True for k in i.correct}})
              for i in a]
    results = {r.metric: r for r in paired_tests(a * 3, better * 3, "B")}
    # province: "wrong" and "failed" miss it in A, so 3 copies of 2 images are discordant
    assert results["province top-1"].detail == "only A right 0, only B right 6"
    assert results["province top-1"].verdict == "B better"
    assert results["province top-1"].p == pytest.approx(2 / 2 ** 6)  # exact: 2 * 0.5^6
    assert results["mean km"].difference < 0 and results["mean km"].verdict == "B better"


def test_comparison_has_paired_tests_and_cluster_warning(tmp_path, regions):
    one = _write_run(tmp_path / "one", _rows())
    two = _write_run(tmp_path / "two", _rows())
    path = write_comparison([one, two], regions, tmp_path / "cmp", plots=False,
                            cluster="cluster")
    text = path.read_text(encoding="utf-8")
    assert "## Paired tests" in text and "No difference: the runs agree" in text
    assert "**warning**: only 2 cluster(s) of `cluster`" in text


def test_report_correlation_wording_and_cluster_warning(tmp_path, regions):
    assert _rho(float("nan")).startswith("undefined") and _rho(0.335) == "+0.335"
    rows = _rows()
    for row, score in zip(rows, (0.9, 0.5, 0.2, 0.1), strict=True):
        if row.prediction:
            row.prediction["locatability"] = {"score": score}
    run = _write_run(tmp_path / "run", rows)
    text = write_report(run, regions, plots=False, cluster="cluster").read_text(encoding="utf-8")
    assert "nan: a constant side" not in text
    assert "**warning**: only 2 cluster(s)" in text


def test_headline_line(regions):
    s = summarize(_scored(regions), total_area(regions), resamples=1)
    line = headline_text(s)
    assert line.startswith("4 images, 3 answered: mean ")
    assert "province 50.0%" in line and "district 25.0%" in line  # exact, near; exact


def test_coinciding_runs_stay_visible_in_figures():
    same = np.array([1.0, 2.0, 3.0])
    styles = curve_styles({"a": same, "b": same.copy(), "c": same + 1})
    assert styles["b"]["label"] == "b (same as a)" and styles["c"]["label"] == "c"
    assert len({s["linestyle"] for s in styles.values()}) == 3
    assert styles["a"]["linewidth"] > styles["b"]["linewidth"]  # the later one drawn thinner

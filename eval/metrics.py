"""Metric functions of eval: pure, over plain numbers, each tested against hand-computed examples.

The distance, score and calibration metrics (geometric mean, GeoGuessr score, calibration) live
in :mod:`sinoloc.tools.metrics`, below the prior trainer that shares them, and are imported here:
eval's code reads every metric as ``m.<name>`` from this module.

Conventions (stated in every report), besides those of :mod:`sinoloc.tools.metrics`:

* **Recall vs Area**: for each image, the summed area of the ranked candidate regions down to and
  including the one that contains the truth (the whole map's area when the truth is not among
  them); the curve is the share of images at or below each area, and its area is the mean of
  the curve over log-spaced areas from 10 km² to the map's area (1 is perfect).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from sinoloc.tools.metrics import (
    CHINA_DIAGONAL_KM,
    DISTANCE_THRESHOLDS_KM,
    GEOGUESSR_MAX,
    Bools,
    Floats,
    calibration_bins,
    expected_calibration_error,
    geoguessr_score,
    geometric_mean_km,
    mean,
    median,
    percentile,
    share_within,
)

__all__ = [
    "CHINA_DIAGONAL_KM",
    "DISTANCE_THRESHOLDS_KM",
    "GEOGUESSR_MAX",
    "MIN_BOOTSTRAP_CLUSTERS",
    "RVA_MIN_AREA_KM2",
    "Bools",
    "Floats",
    "area_to_truth",
    "bootstrap_ci",
    "calibration_bins",
    "expected_calibration_error",
    "few_clusters_warning",
    "geoguessr_score",
    "geometric_mean_km",
    "hit_at_k",
    "mcnemar",
    "mean",
    "median",
    "paired_bootstrap_ci",
    "percentile",
    "precision_recall_f1",
    "ranks",
    "recall_at_areas",
    "rva_auc",
    "rva_grid",
    "share_within",
    "spearman",
    "wilcoxon_signed_rank",
    "worst_rank",
]

RVA_MIN_AREA_KM2 = 10.0


def ranks(values: Floats) -> np.ndarray:
    """Ranks 1…n, ties given their average rank."""
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranked = np.empty(len(x))
    ranked[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        ranked[tied] = ranked[tied].mean()
    return ranked


def spearman(x: Floats, y: Floats) -> float:
    """Spearman's rank correlation (Pearson's on average ranks); nan below 3 pairs or when
    either side is constant."""
    if len(x) != len(y):
        raise ValueError("spearman: x and y differ in length")
    if len(x) < 3:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def precision_recall_f1(answered: int, correct: int, total: int) -> tuple[float, float, float]:
    """GeoReasoner's per-level numbers: accuracy among answers (precision), recall over all
    images (a refusal or an empty answer counts against it), and their harmonic mean."""
    precision = correct / answered if answered else 0.0
    recall = correct / total if total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _tie_bounds(probs: Sequence[float], position: int) -> tuple[int, int]:
    """(regions ranked strictly above, regions tied with) the one at ``position``."""
    p = probs[position]
    return sum(q > p for q in probs), sum(q == p for q in probs)


def worst_rank(ranked: Sequence[tuple[str, float]], truth: str) -> int | None:
    """The truth's rank when ties are broken against it; None when it is not listed or its
    tie group reaches the end of the list (so it may go on beyond what was listed)."""
    codes = [c for c, _ in ranked]
    if truth not in codes:
        return None
    probs = [p for _, p in ranked]
    position = codes.index(truth)
    above, tied = _tie_bounds(probs, position)
    if probs[-1] == probs[position]:
        return None
    return above + tied


def hit_at_k(ranked: Sequence[tuple[str, float]], truth: str, k: int) -> bool:
    """Whether the truth is among the first ``k`` however ties are broken."""
    rank = worst_rank(ranked, truth)
    return rank is not None and rank <= k


def area_to_truth(ranked: Sequence[tuple[str, float, float]], truth: str,
                  total_area: float) -> float:
    """Accumulated area of ranked (code, probability, area) regions down to and including the
    truth, ties broken against it; ``total_area`` when the truth is not listed or its tie group
    runs to the end of the list."""
    rank = worst_rank([(c, p) for c, p, _ in ranked], truth)
    if rank is None:
        return total_area
    return float(sum(area for _, _, area in ranked[:rank]))


def rva_grid(total_area: float, points: int = 60) -> np.ndarray:
    return np.logspace(math.log10(RVA_MIN_AREA_KM2), math.log10(total_area), points)


def recall_at_areas(areas: Floats, grid: Floats) -> np.ndarray:
    """Share of images whose area-to-truth is at most each grid area."""
    ordered = np.sort(np.asarray(areas, dtype=float))
    return np.searchsorted(ordered, np.asarray(grid, dtype=float), side="right") / max(len(ordered), 1)


def rva_auc(areas: Floats, total_area: float, points: int = 60) -> float:
    """Mean recall over log-spaced areas from 10 km² to ``total_area`` (1 is perfect)."""
    if not len(areas):
        return math.nan
    grid = rva_grid(total_area, points)
    return float(np.mean(recall_at_areas(areas, grid)))


def bootstrap_ci(values: Floats, statistic: Callable[[np.ndarray], float],
                 resamples: int = 1000, level: float = 0.95, seed: int = 0,
                 groups: Sequence[str] | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (seeded: reports are reproducible).

    Images are resampled one by one, or, with ``groups``, whole clusters at a time (images of
    one street or one route are not independent; resampling them together keeps the interval
    honest)."""
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    if groups is None:
        if len(data) < 2:
            return (math.nan, math.nan)
        picks = rng.integers(0, len(data), size=(resamples, len(data)))
        stats = np.array([statistic(data[p]) for p in picks])
    else:
        labels, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
        if len(labels) < 2:
            return (math.nan, math.nan)
        members = [np.flatnonzero(inverse == g) for g in range(len(labels))]
        stats = np.array([
            statistic(data[np.concatenate([members[g] for g in
                                             rng.integers(0, len(labels), len(labels))])])
            for _ in range(resamples)])
    tail = (1 - level) / 2 * 100
    return float(np.percentile(stats, tail)), float(np.percentile(stats, 100 - tail))


# ------------------------------------------------------------------ paired comparisons
MIN_BOOTSTRAP_CLUSTERS = 10  # below this a cluster bootstrap's intervals are degenerate


def few_clusters_warning(clusters: int | None, column: str | None) -> str | None:
    """The warning a report prints when a cluster bootstrap has too few clusters to resample
    (with 2 clusters every resample is one of 3 mixtures: the interval means nothing)."""
    if clusters is None or clusters >= MIN_BOOTSTRAP_CLUSTERS:
        return None
    return (f"only {clusters} cluster(s) of `{column}` to resample (fewer than "
            f"{MIN_BOOTSTRAP_CLUSTERS}): the intervals are degenerate, read them as ranges of "
            "a few cluster mixtures, not as confidence intervals")


def _two_sided_binomial(k: int, n: int) -> float:
    """P-value of k successes in n fair coin flips, two-sided (exact)."""
    if n == 0:
        return 1.0
    tail = min(k, n - k)
    p = sum(math.comb(n, i) for i in range(tail + 1)) / 2 ** n
    return min(1.0, 2 * p)


def mcnemar(hits_a: Bools, hits_b: Bools) -> tuple[int, int, float]:
    """Exact McNemar test on paired hits: (only A right, only B right, two-sided p)."""
    if len(hits_a) != len(hits_b):
        raise ValueError("mcnemar: the runs differ in length")
    a_only = sum(bool(a) and not bool(b) for a, b in zip(hits_a, hits_b, strict=True))
    b_only = sum(bool(b) and not bool(a) for a, b in zip(hits_a, hits_b, strict=True))
    return a_only, b_only, _two_sided_binomial(a_only, a_only + b_only)


def wilcoxon_signed_rank(a: Floats, b: Floats) -> tuple[int, float]:
    """Wilcoxon signed-rank test of paired values (zero differences dropped, ties given average
    ranks, normal approximation with the tie correction): (pairs that differ, two-sided p).
    p is 1 when no pair differs; with fewer than 6 differing pairs the test cannot reach 5 %."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[d != 0]
    n = len(d)
    if n == 0:
        return 0, 1.0
    r = ranks(np.abs(d))
    w_plus = float(r[d > 0].sum())
    mean_w = n * (n + 1) / 4
    _, counts = np.unique(np.abs(d), return_counts=True)
    var_w = n * (n + 1) * (2 * n + 1) / 24 - float(np.sum(counts ** 3 - counts)) / 48
    if var_w <= 0:
        return n, 1.0
    z = (abs(w_plus - mean_w) - 0.5) / math.sqrt(var_w)  # continuity correction
    return n, float(min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2))))


def paired_bootstrap_ci(a: Floats, b: Floats,
                        statistic: Callable[[np.ndarray], float], resamples: int = 1000,
                        level: float = 0.95, seed: int = 0,
                        groups: Sequence[str] | None = None) -> tuple[float, float, float]:
    """``statistic(b) - statistic(a)`` and its percentile interval, resampling the *same*
    images (or whole clusters) for both runs, so what the images share cancels out."""
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    pairs = np.arange(len(xa), dtype=float)
    low, high = bootstrap_ci(
        pairs, lambda idx: statistic(xb[idx.astype(int)]) - statistic(xa[idx.astype(int)]),
        resamples=resamples, level=level, seed=seed, groups=groups)
    return float(statistic(xb) - statistic(xa)), low, high

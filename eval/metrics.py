"""Metric functions: pure, over plain numbers, each tested against hand-computed examples.

Conventions (stated in every report):

* **Geometric mean** of errors uses the shifted form ``exp(mean(ln(1 + d))) - 1`` so that an
  exact answer (0 km) counts instead of collapsing the mean to 0.
* **GeoGuessr score** ``5000 * exp(-10 * d / D)`` with ``D`` the diagonal of the map's bounding
  box; for China (73.50–135.09 E, 18.16–53.56 N) ``D = 6529 km``.
* **Recall vs Area**: for each image, the summed area of the ranked candidate regions down to and
  including the one that contains the truth (the whole map's area when the truth is not among
  them); the curve is the share of images at or below each area, and its area is the mean of
  the curve over log-spaced areas from 10 km² to the map's area (1 is perfect).
* **Calibration**: expected calibration error over equal-width confidence bins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

DISTANCE_THRESHOLDS_KM = (1, 25, 200, 750, 2500)
CHINA_DIAGONAL_KM = 6529.0
GEOGUESSR_MAX = 5000.0
RVA_MIN_AREA_KM2 = 10.0


def mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def geometric_mean_km(errors_km: Sequence[float]) -> float:
    """``exp(mean(ln(1 + d))) - 1``: 0 km errors are allowed."""
    if not len(errors_km):
        return math.nan
    return float(np.expm1(np.mean(np.log1p(np.asarray(errors_km, dtype=float)))))


def median(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else math.nan


def ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 1…n, ties given their average rank."""
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranked = np.empty(len(x))
    ranked[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        ranked[tied] = ranked[tied].mean()
    return ranked


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
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


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), linear interpolation between order statistics."""
    return float(np.percentile(values, q)) if len(values) else math.nan


def share_within(errors_km: Sequence[float], threshold_km: float) -> float:
    """Share of errors at or below the threshold."""
    if not len(errors_km):
        return math.nan
    return float(np.mean(np.asarray(errors_km, dtype=float) <= threshold_km))


def geoguessr_score(error_km: float, diagonal_km: float = CHINA_DIAGONAL_KM) -> float:
    return float(GEOGUESSR_MAX * math.exp(-10.0 * error_km / diagonal_km))


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


def recall_at_areas(areas: Sequence[float], grid: Sequence[float]) -> np.ndarray:
    """Share of images whose area-to-truth is at most each grid area."""
    areas = np.sort(np.asarray(areas, dtype=float))
    return np.searchsorted(areas, np.asarray(grid, dtype=float), side="right") / max(len(areas), 1)


def rva_auc(areas: Sequence[float], total_area: float, points: int = 60) -> float:
    """Mean recall over log-spaced areas from 10 km² to ``total_area`` (1 is perfect)."""
    if not len(areas):
        return math.nan
    grid = rva_grid(total_area, points)
    return float(np.mean(recall_at_areas(areas, grid)))


def calibration_bins(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10
                     ) -> list[dict]:
    """Per equal-width bin: its range, count, mean confidence and accuracy (empty bins are
    listed with count 0)."""
    confidence = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    correct = np.asarray(correct, dtype=float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        out.append({"low": b / bins, "high": (b + 1) / bins, "count": n,
                    "confidence": float(confidence[mask].mean()) if n else math.nan,
                    "accuracy": float(correct[mask].mean()) if n else math.nan})
    return out


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool],
                               bins: int = 10) -> float:
    """Σ_b (n_b / N) · |accuracy_b − confidence_b|."""
    n = len(confidence)
    if not n:
        return math.nan
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"])
                     for b in calibration_bins(confidence, correct, bins) if b["count"]))


def bootstrap_ci(values: Sequence[float], statistic: Callable[[np.ndarray], float],
                 resamples: int = 1000, level: float = 0.95, seed: int = 0,
                 groups: Sequence[str] | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (seeded: reports are reproducible).

    Images are resampled one by one, or, with ``groups``, whole clusters at a time (images of
    one street or one route are not independent; resampling them together keeps the interval
    honest)."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    if groups is None:
        if len(values) < 2:
            return (math.nan, math.nan)
        picks = rng.integers(0, len(values), size=(resamples, len(values)))
        stats = np.array([statistic(values[p]) for p in picks])
    else:
        labels, inverse = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
        if len(labels) < 2:
            return (math.nan, math.nan)
        members = [np.flatnonzero(inverse == g) for g in range(len(labels))]
        stats = np.array([
            statistic(values[np.concatenate([members[g] for g in
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


def mcnemar(hits_a: Sequence[bool], hits_b: Sequence[bool]) -> tuple[int, int, float]:
    """Exact McNemar test on paired hits: (only A right, only B right, two-sided p)."""
    if len(hits_a) != len(hits_b):
        raise ValueError("mcnemar: the runs differ in length")
    a_only = sum(bool(a) and not bool(b) for a, b in zip(hits_a, hits_b, strict=True))
    b_only = sum(bool(b) and not bool(a) for a, b in zip(hits_a, hits_b, strict=True))
    return a_only, b_only, _two_sided_binomial(a_only, a_only + b_only)


def wilcoxon_signed_rank(a: Sequence[float], b: Sequence[float]) -> tuple[int, float]:
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


def paired_bootstrap_ci(a: Sequence[float], b: Sequence[float],
                        statistic: Callable[[np.ndarray], float], resamples: int = 1000,
                        level: float = 0.95, seed: int = 0,
                        groups: Sequence[str] | None = None) -> tuple[float, float, float]:
    """``statistic(b) - statistic(a)`` and its percentile interval, resampling the *same*
    images (or whole clusters) for both runs, so what the images share cancels out."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    pairs = np.arange(len(a), dtype=float)
    low, high = bootstrap_ci(
        pairs, lambda idx: statistic(b[idx.astype(int)]) - statistic(a[idx.astype(int)]),
        resamples=resamples, level=level, seed=seed, groups=groups)
    return float(statistic(b) - statistic(a)), low, high

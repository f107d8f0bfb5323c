"""Distance, score and calibration metrics: pure, over plain numbers, each tested against
hand-computed examples. The prior trainer scores its validation images with these and eval scores
runs with them, so they live here, below both (eval's ranking, area and paired statistics stay in
:mod:`sinoloc.eval.metrics`, which imports these too).

Conventions (stated in every report):

* **Geometric mean** of errors uses the shifted form ``exp(mean(ln(1 + d))) - 1`` so that an
  exact answer (0 km) counts instead of collapsing the mean to 0.
* **GeoGuessr score** ``5000 * exp(-10 * d / D)`` with ``D`` the diagonal of the map's bounding
  box; for China (73.50–135.09 E, 18.16–53.56 N) ``D = 6529 km``.
* **Calibration**: expected calibration error over equal-width confidence bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# What the metrics accept: plain lists from the results log or arrays from the scorer and plots.
Floats = Sequence[float] | np.ndarray
Bools = Sequence[bool] | np.ndarray

DISTANCE_THRESHOLDS_KM = (1, 25, 200, 750, 2500)
CHINA_DIAGONAL_KM = 6529.0
GEOGUESSR_MAX = 5000.0


def mean(values: Floats) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def geometric_mean_km(errors_km: Floats) -> float:
    """``exp(mean(ln(1 + d))) - 1``: 0 km errors are allowed."""
    if not len(errors_km):
        return math.nan
    return float(np.expm1(np.mean(np.log1p(np.asarray(errors_km, dtype=float)))))


def median(values: Floats) -> float:
    return float(np.median(values)) if len(values) else math.nan


def percentile(values: Floats, q: float) -> float:
    """The ``q``-th percentile (0–100), linear interpolation between order statistics."""
    return float(np.percentile(values, q)) if len(values) else math.nan


def share_within(errors_km: Floats, threshold_km: float) -> float:
    """Share of errors at or below the threshold."""
    if not len(errors_km):
        return math.nan
    return float(np.mean(np.asarray(errors_km, dtype=float) <= threshold_km))


def geoguessr_score(error_km: float, diagonal_km: float = CHINA_DIAGONAL_KM) -> float:
    return float(GEOGUESSR_MAX * math.exp(-10.0 * error_km / diagonal_km))


def calibration_bins(confidence: Floats, correct: Bools, bins: int = 10) -> list[dict]:
    """Per equal-width bin: its range, count, mean confidence and accuracy (empty bins are
    listed with count 0)."""
    conf = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    hits = np.asarray(correct, dtype=float)
    which = np.minimum((conf * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        out.append({"low": b / bins, "high": (b + 1) / bins, "count": n,
                    "confidence": float(conf[mask].mean()) if n else math.nan,
                    "accuracy": float(hits[mask].mean()) if n else math.nan})
    return out


def expected_calibration_error(confidence: Floats, correct: Bools,
                               bins: int = 10) -> float:
    """Σ_b (n_b / N) · |accuracy_b − confidence_b|."""
    n = len(confidence)
    if not n:
        return math.nan
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"])
                     for b in calibration_bins(confidence, correct, bins) if b["count"]))

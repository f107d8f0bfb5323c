"""From result rows to per-image scores and the run's summary (with bootstrap intervals and
slices). A row without an answer (a failure, a timeout, an unreadable image) stays in every
denominator: its distance is scored at the no-evidence guess (the point the product itself
answers with when nothing locates an image), it is wrong at every level, and it lowers recall.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

import numpy as np
from pydantic import BaseModel, Field

from sinoloc.eval import metrics as m
from sinoloc.eval.results import ResultRow
from sinoloc.tools.regions import RegionIndex, haversine_km

LEVELS = ("province", "city", "district")
MIN_SLICE = 1


class ScoredImage(BaseModel):
    id: str
    status: str
    answered: bool
    error_km: float
    imputed: bool = Field(description="no answer: distance scored at the no-evidence guess")
    lat: float | None = None  # the prediction (WGS-84)
    lon: float | None = None
    truth_lat: float
    truth_lon: float
    truth_province: str | None
    correct: dict[str, bool]
    top3: dict[str, bool]
    named: dict[str, bool] = Field(description="the answer names this level")
    confidence: dict[str, float]
    area_to_truth_km2: float
    score: float
    seconds: float
    model_calls: int = 0
    tool_calls: int = 0
    tokens: int = 0
    cost_usd: float | None = None
    basis: str | None = None
    locatability: float | None = None
    samples: int = Field(default=1, description="trajectories run on the image")
    agreement: float | None = Field(default=None, description=(
        "share of the trajectories that agreed on the committed answer (samples > 1)"))
    attributes: dict[str, str] = Field(default_factory=dict)


@lru_cache(maxsize=2)
def no_evidence_point(index: RegionIndex) -> tuple[float, float]:
    """(lat, lon) of the fusion engine's answer with no evidence at all."""
    from sinoloc.agent.reasoning.answering import fused_answer

    answer, _, _ = fused_answer([], index)
    return answer.lat, answer.lon


@lru_cache(maxsize=2)
def total_area(index: RegionIndex) -> float:
    return float(sum(d.area_km2 for d in index.districts))


def _ranked(p: dict | None, level: str) -> list[tuple[str, float]]:
    """(adcode, probability) of the prediction's candidates at ``level`` (districts are the
    plain ``candidates``)."""
    if not p:
        return []
    candidates = p.get("candidates", []) if level == "district" else p.get(f"{level}_candidates", [])
    return [(c["adcode"], c["probability"]) for c in candidates]


def _level_outcome(p: dict | None, want: str | None, level: str) -> tuple[bool, bool, bool, float]:
    """(named, correct, among the top 3, stated confidence) of a prediction at one level."""
    got = p.get(f"{level}_adcode") if p else None
    correct = bool(got) and got == want
    top3 = correct or m.hit_at_k(_ranked(p, level), want or "", 3)
    return bool(got), correct, top3, float((p or {}).get("confidence", {}).get(level, 0.0))


def _area_to_truth(p: dict | None, district_adcode: str | None, index: RegionIndex) -> float:
    """Area of the district candidates down to the true one (the whole map without an answer)."""
    area = total_area(index)
    if not p:
        return area
    ranked_areas = []
    for c in p.get("candidates", []):
        region = index.get(c["adcode"], "district")
        ranked_areas.append((c["adcode"], c["probability"], region.area_km2 if region else 0.0))
    return m.area_to_truth(ranked_areas, district_adcode or "", area)


def score_row(row: ResultRow, index: RegionIndex) -> ScoredImage:
    truth = row.truth
    p = row.prediction if row.answered else None
    if p is None:
        lat, lon = no_evidence_point(index)
    else:
        lat, lon = p["lat"], p["lon"]
    error = float(haversine_km(truth.lon, truth.lat, lon, lat))
    correct, top3, named, confidence = {}, {}, {}, {}
    for level in LEVELS:
        named[level], correct[level], top3[level], confidence[level] = _level_outcome(
            p, getattr(truth, f"{level}_adcode"), level)
    area = _area_to_truth(p, truth.district_adcode, index)
    usage = (p or {}).get("usage", {})
    return ScoredImage(
        id=row.id, status=row.status, answered=p is not None, error_km=error, imputed=p is None,
        lat=p["lat"] if p else None, lon=p["lon"] if p else None,
        truth_lat=truth.lat, truth_lon=truth.lon, truth_province=truth.province,
        correct=correct, top3=top3, named=named, confidence=confidence,
        area_to_truth_km2=area, score=m.geoguessr_score(error), seconds=row.seconds,
        model_calls=usage.get("model_calls", 0), tool_calls=usage.get("tool_calls", 0),
        tokens=usage.get("input_tokens", 0) + usage.get("output_tokens", 0),
        cost_usd=usage.get("cost_usd"), basis=(p or {}).get("basis"),
        locatability=((p or {}).get("locatability") or {}).get("score"),
        samples=((p or {}).get("samples") or {}).get("k", 1),
        agreement=((p or {}).get("samples") or {}).get("agreement"),
        attributes=row.attributes)


class Interval(BaseModel):
    value: float
    low: float
    high: float


class LevelStats(BaseModel):
    top1: Interval
    top3: float
    answer_rate: float
    precision: float = Field(description="accuracy among answered images")
    recall: float
    f1: float
    ece: float


class Summary(BaseModel):
    images: int
    answered: int
    failures: dict[str, int]
    mean_km: Interval
    geometric_mean_km: Interval
    median_km: Interval
    within_km: dict[str, Interval]
    score: Interval
    levels: dict[str, LevelStats]
    rva_auc: float
    latency_p50_s: float
    latency_p95_s: float
    model_calls_per_image: float
    tool_calls_per_image: float
    tokens_per_image: float
    cost_usd_per_image: float | None
    prior_only_share: float
    clusters: int | None = Field(default=None, description="clusters resampled, if any")


@dataclass(frozen=True)
class _Bootstrap:
    """How a summary's intervals resample: how often, and by which clusters (None: by image)."""

    resamples: int
    groups: list[str] | None

    def interval(self, values: m.Floats, statistic: Callable[[np.ndarray], float]) -> Interval:
        data = np.asarray(values, dtype=float)
        low, high = m.bootstrap_ci(data, statistic, resamples=self.resamples, groups=self.groups)
        return Interval(value=float(statistic(data)) if len(data) else math.nan, low=low, high=high)


def _level_stats(images: list[ScoredImage], level: str, boot: _Bootstrap) -> LevelStats:
    """Accuracy, answer rate, precision / recall / F1 and calibration at one admin level."""
    n = len(images)
    answered = sum(i.answered and i.named[level] for i in images)
    correct = sum(i.correct[level] for i in images)
    precision, recall, f1 = m.precision_recall_f1(answered, correct, n)
    calibrated = [i for i in images if i.answered]
    return LevelStats(
        top1=boot.interval([i.correct[level] for i in images], np.mean),
        top3=m.mean([i.top3[level] for i in images]),
        answer_rate=answered / n if n else math.nan,
        precision=precision, recall=recall, f1=f1,
        ece=m.expected_calibration_error([i.confidence[level] for i in calibrated],
                                         [i.correct[level] for i in calibrated]))


def _failures(images: list[ScoredImage]) -> dict[str, int]:
    """Unanswered images by status."""
    failures: dict[str, int] = defaultdict(int)
    for i in images:
        if not i.answered:
            failures[i.status] += 1
    return dict(failures)


def _within_km(errors: list[float], boot: _Bootstrap) -> dict[str, Interval]:
    """Share of errors within each distance threshold, with its interval."""
    def share_within(threshold: float) -> Callable[[np.ndarray], float]:
        return lambda e: m.share_within(e, threshold)

    return {str(t): boot.interval(errors, share_within(t)) for t in m.DISTANCE_THRESHOLDS_KM}


class _Usage(TypedDict):
    model_calls_per_image: float
    tool_calls_per_image: float
    tokens_per_image: float
    cost_usd_per_image: float | None
    prior_only_share: float


def _usage_per_image(images: list[ScoredImage]) -> _Usage:
    """What the run spent per image (calls, tokens, dollars) and how often it fell back on
    the prior alone."""
    costs = [i.cost_usd for i in images if i.cost_usd is not None]
    return _Usage(
        model_calls_per_image=m.mean([i.model_calls for i in images]),
        tool_calls_per_image=m.mean([i.tool_calls for i in images]),
        tokens_per_image=m.mean([i.tokens for i in images]),
        cost_usd_per_image=(sum(costs) / len(images)) if costs else None,
        prior_only_share=m.mean([i.basis == "prior_only" for i in images]))


def summarize(images: list[ScoredImage], total_area_km2: float, resamples: int = 1000,
              cluster: str | None = None) -> Summary:
    """The run's numbers; intervals resample images, or whole clusters of the ``cluster``
    column (a dataset column or a ``notes`` key)."""
    n = len(images)
    groups = [slice_key(i, cluster) for i in images] if cluster else None
    boot = _Bootstrap(resamples, groups)
    errors = [i.error_km for i in images]
    levels = {level: _level_stats(images, level, boot) for level in LEVELS}
    seconds = [i.seconds for i in images]
    return Summary(
        images=n, answered=sum(i.answered for i in images), failures=_failures(images),
        mean_km=boot.interval(errors, np.mean),
        geometric_mean_km=boot.interval(errors, m.geometric_mean_km),
        median_km=boot.interval(errors, np.median),
        within_km=_within_km(errors, boot),
        score=boot.interval([i.score for i in images], np.mean),
        levels=levels,
        rva_auc=m.rva_auc([i.area_to_truth_km2 for i in images], total_area_km2),
        latency_p50_s=m.percentile(seconds, 50), latency_p95_s=m.percentile(seconds, 95),
        **_usage_per_image(images),
        clusters=len(set(groups)) if groups else None)


def slice_key(image: ScoredImage, key: str) -> str:
    """A dataset column's value; ``province`` is the true province and ``locatability`` the
    prediction's band (low / medium / high)."""
    if key == "province":
        return image.truth_province or "?"
    if key == "locatability" and key not in image.attributes:
        from sinoloc.agent.reasoning.locatability import band_of

        return band_of(image.locatability) if image.locatability is not None else "?"
    return image.attributes.get(key, "?")


class LocatabilityStats(BaseModel):
    """How locatability relates to error over the scored images that have a score."""

    images: int
    spearman_vs_error_km: float = Field(description="negative: more locatable, smaller error")
    spearman_vs_district_hit: float
    mean_score: float


def locatability_stats(images: list[ScoredImage]) -> LocatabilityStats | None:
    pairs = [(i.locatability, i) for i in images if i.locatability is not None]
    if not pairs:
        return None
    scores = [score for score, _ in pairs]
    scored = [i for _, i in pairs]
    return LocatabilityStats(
        images=len(scored), mean_score=round(m.mean(scores), 4),
        spearman_vs_error_km=m.spearman(scores, [i.error_km for i in scored]),
        spearman_vs_district_hit=m.spearman(scores, [float(i.correct["district"])
                                                     for i in scored]))


def slices(images: list[ScoredImage], key: str, total_area_km2: float,
           resamples: int = 200) -> dict[str, Summary]:
    groups: dict[str, list[ScoredImage]] = defaultdict(list)
    for image in images:
        groups[slice_key(image, key)].append(image)
    return {name: summarize(group, total_area_km2, resamples)
            for name, group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
            if len(group) >= MIN_SLICE}

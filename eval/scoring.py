"""From result rows to per-image scores and the run's summary (with bootstrap intervals and
slices). A row without an answer (a failure, a timeout, an unreadable image) stays in every
denominator: its distance is scored at the no-evidence guess (the point the product itself
answers with when nothing locates an image), it is wrong at every level, and it lowers recall.
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import lru_cache

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
        want = getattr(truth, f"{level}_adcode")
        got = p.get(f"{level}_adcode") if p else None
        named[level] = bool(got)
        correct[level] = bool(got) and got == want
        ranked = [(c["adcode"], c["probability"]) for c in
                  ((p.get("candidates", []) if level == "district"
                    else p.get(f"{level}_candidates", [])) if p else [])]
        top3[level] = correct[level] or m.hit_at_k(ranked, want or "", 3)
        confidence[level] = float((p or {}).get("confidence", {}).get(level, 0.0))
    area = total_area(index)
    if p:
        ranked_areas = []
        for c in p.get("candidates", []):
            region = index.get(c["adcode"], "district")
            ranked_areas.append((c["adcode"], c["probability"], region.area_km2 if region else 0.0))
        area = m.area_to_truth(ranked_areas, truth.district_adcode or "", area)
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


def summarize(images: list[ScoredImage], total_area_km2: float, resamples: int = 1000,
              cluster: str | None = None) -> Summary:
    """The run's numbers; intervals resample images, or whole clusters of the ``cluster``
    column (a dataset column or a ``notes`` key)."""
    n = len(images)
    groups = [slice_key(i, cluster) for i in images] if cluster else None

    def interval(values, statistic) -> Interval:
        values = np.asarray(values, dtype=float)
        low, high = m.bootstrap_ci(values, statistic, resamples=resamples, groups=groups)
        return Interval(value=float(statistic(values)) if len(values) else math.nan,
                        low=low, high=high)

    errors = [i.error_km for i in images]
    levels = {}
    for level in LEVELS:
        answered = sum(i.answered and i.named[level] for i in images)
        correct = sum(i.correct[level] for i in images)
        precision, recall, f1 = m.precision_recall_f1(answered, correct, n)
        calibrated = [i for i in images if i.answered]
        levels[level] = LevelStats(
            top1=interval([i.correct[level] for i in images], np.mean),
            top3=m.mean([i.top3[level] for i in images]),
            answer_rate=answered / n if n else math.nan,
            precision=precision, recall=recall, f1=f1,
            ece=m.expected_calibration_error([i.confidence[level] for i in calibrated],
                                             [i.correct[level] for i in calibrated]))
    failures: dict[str, int] = defaultdict(int)
    for i in images:
        if not i.answered:
            failures[i.status] += 1
    costs = [i.cost_usd for i in images if i.cost_usd is not None]
    seconds = [i.seconds for i in images]
    return Summary(
        images=n, answered=sum(i.answered for i in images), failures=dict(failures),
        mean_km=interval(errors, np.mean),
        geometric_mean_km=interval(errors, m.geometric_mean_km),
        median_km=interval(errors, np.median),
        within_km={str(t): interval(errors, lambda e, t=t: m.share_within(e, t))
                   for t in m.DISTANCE_THRESHOLDS_KM},
        score=interval([i.score for i in images], np.mean),
        levels=levels,
        rva_auc=m.rva_auc([i.area_to_truth_km2 for i in images], total_area_km2),
        latency_p50_s=m.percentile(seconds, 50), latency_p95_s=m.percentile(seconds, 95),
        model_calls_per_image=m.mean([i.model_calls for i in images]),
        tool_calls_per_image=m.mean([i.tool_calls for i in images]),
        tokens_per_image=m.mean([i.tokens for i in images]),
        cost_usd_per_image=(sum(costs) / n) if costs else None,
        prior_only_share=m.mean([i.basis == "prior_only" for i in images]),
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
    scored = [i for i in images if i.locatability is not None]
    if not scored:
        return None
    scores = [i.locatability for i in scored]
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

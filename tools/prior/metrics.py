"""How good a prior is on labelled images: per-level accuracy, and the seed system's distance
metrics for the answer the prior alone leads to (the same fusion and decision as the graph's
``prior`` baseline, so ``prior train`` and ``eval run --baseline prior`` agree)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from sinoloc.tools import metrics as m
from sinoloc.tools.prior.calibration import fit_temperature, pooled_log_probs, true_districts, view_owners
from sinoloc.tools.prior.data import PriorExample
from sinoloc.tools.prior.distribution import Distribution, index_vector
from sinoloc.tools.prior.labels import LabelSpace
from sinoloc.tools.regions import RegionIndex, haversine_km


class LevelScore(BaseModel):
    top1: float  # the decoded chain's region at this level is right
    top3: float  # the truth is among the three most probable regions of the level


class PriorMetrics(BaseModel):
    images: int
    province: LevelScore
    city: LevelScore
    district: LevelScore
    mean_km: float
    median_km: float
    within_km: dict[str, float]
    geoguessr: float
    nll: float | None  # mean negative log-likelihood of the true district (in-space images)
    province_ece: float  # calibration of the decoded province's probability
    outside_space: int  # validation images in districts the prior cannot name

    def table(self) -> str:
        rows = [f"  {name:9s} top-1 {s.top1:6.1%}   top-3 {s.top3:6.1%}"
                for name, s in (("province", self.province), ("city", self.city),
                                ("district", self.district))]
        within = "  ".join(f"<{k} km {v:.1%}" for k, v in self.within_km.items())
        nll = f"{self.nll:.3f}" if self.nll is not None else "n/a"
        return "\n".join([*rows, f"  distance  mean {self.mean_km:.1f} km, median "
                          f"{self.median_km:.1f} km; {within}",
                          f"  GeoGuessr score {self.geoguessr:.0f}; NLL {nll}; province ECE "
                          f"{self.province_ece:.3f}; {self.outside_space} image(s) outside the "
                          "label space"])


LEVELS = ("province", "city", "district")


def decoded_hits(dist: Distribution, example: PriorExample) -> dict[str, bool]:
    """Whether the decoded chain's region at each level is the true one."""
    space, chain = dist.space, dist.decode()
    codes = (space.provinces, space.cities, space.districts)
    return {level: codes[k][chain[k]] == getattr(example, f"{level}_adcode")
            for k, level in enumerate(LEVELS)}


def score_views(heads, rows: list, examples: list[PriorExample], space: LabelSpace,
                index: RegionIndex, temperature: float = 1.0,
                fit: bool = False) -> tuple[float, PriorMetrics]:
    """Score images from their view features (one tensor of views per image), pooled as at
    inference; with ``fit`` the temperature is fitted on these images first."""
    import torch

    device = next(heads.parameters()).device
    features, owners = torch.cat(rows).to(device), view_owners(rows)
    heads.eval()
    with torch.inference_mode():
        if fit:
            temperature = fit_temperature(heads, features, owners, true_districts(examples, space))
        log_probs = pooled_log_probs(heads, features, owners, temperature)
    return temperature, score([Distribution(np.exp(r), space) for r in log_probs], examples,
                              index)


def prior_point(distribution: Distribution, index: RegionIndex) -> tuple[float, float]:
    """Where the graph would answer with this prior as its only evidence (lat, lon)."""
    from sinoloc.tools.fusion import Belief, decide  # the graph's own decision, not a copy of it

    # through the same sparse form the cnn_prior tool hands to fusion
    vector = index_vector(distribution.sparse(), index)
    decision = decide(Belief(index=index, probs=vector, evidence_count=0), [])
    return decision.lat, decision.lon


def score(distributions: list[Distribution], examples: list[PriorExample],
          index: RegionIndex) -> PriorMetrics:
    hits: dict[str, tuple[list[bool], list[bool]]] = {level: ([], []) for level in LEVELS}
    errors, nll, confidence, correct, outside = [], [], [], [], 0
    for dist, ex in zip(distributions, examples, strict=True):
        space = dist.space
        decoded = decoded_hits(dist, ex)
        for level, codes, values in (("province", space.provinces, dist.province),
                                     ("city", space.cities, dist.city),
                                     ("district", space.districts, dist.probs)):
            top3 = {codes[i] for i in np.argsort(-values, kind="stable")[:3]}
            hits[level][0].append(decoded[level])
            hits[level][1].append(getattr(ex, f"{level}_adcode") in top3)
        confidence.append(float(dist.province.max()))  # the decoded province's
        correct.append(decoded["province"])
        encoded = space.encode(ex.district_adcode)
        if encoded is None:
            outside += 1
        else:
            nll.append(-float(np.log(max(dist.probs[encoded[2]], 1e-12))))
        lat, lon = prior_point(dist, index)
        errors.append(float(haversine_km(lon, lat, ex.lon, ex.lat)))

    def level_score(name: str) -> LevelScore:
        top1, top3 = hits[name]
        return LevelScore(top1=float(np.mean(top1)), top3=float(np.mean(top3)))

    return PriorMetrics(
        images=len(examples), province=level_score("province"), city=level_score("city"),
        district=level_score("district"), mean_km=m.mean(errors), median_km=m.median(errors),
        within_km={str(t): m.share_within(errors, t) for t in m.DISTANCE_THRESHOLDS_KM},
        geoguessr=m.mean([m.geoguessr_score(e) for e in errors]),
        nll=float(np.mean(nll)) if nll else None,
        province_ece=m.expected_calibration_error(confidence, correct),
        outside_space=outside)

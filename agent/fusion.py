"""Evidence fusion: a belief over the 2875 districts, its marginals, and a decision.

Each evidence item multiplies the odds of the districts it supports by a likelihood ratio:
``L(d) = 1 + (λ - 1) · s(d)``, where ``s(d)`` in [0, 1] is how much the item supports district
``d`` (1 inside a supported region, a distance kernel around a point). ``λ`` is chosen so that the
item alone would put probability ``weight`` on its support (``λ = odds(weight) · (N - n) / n`` for
a support of ``n`` of ``N`` districts), then tempered by the reading's confidence (``λ^conf``).
A wrong clue can shift the belief by at most its own ratio, and stronger agreeing evidence
outweighs it.

The visual prior (``prior`` evidence, from the ``cnn_prior`` tool) is not a clue: it is the
starting distribution. Its district probabilities replace the uniform start, tempered by the
item's confidence (``log p · conf``), and never reach zero, so text evidence can overrule it.
Without a prior every district starts equally likely, and the decision says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from ..tools.evidence import Evidence, EvidenceKind
from ..tools.prior.distribution import index_vector
from ..tools.regions import Level, Region, RegionIndex, haversine_km

ANCHOR_THRESHOLD = 0.5  # a level is decided when its marginal reaches this


def prior_vector(item: Evidence, index: RegionIndex) -> np.ndarray:
    """A prior item's distribution over every district (its district-level regions)."""
    return index_vector({r.adcode: r.weight for r in item.regions if r.level == "district"},
                        index)


PRIOR_CITABLE_MASS = 0.1  # the prior supports a region holding at least this share of it


def supports(item: Evidence, region: Region, index: RegionIndex) -> bool:
    """Whether ``item`` points into ``region``: any support inside it, or for the visual
    prior (which gives every district some mass) a real share of its mass."""
    mask = index.district_mask(region)
    if item.kind is EvidenceKind.PRIOR:
        return float(prior_vector(item, index)[mask].sum()) >= PRIOR_CITABLE_MASS
    return bool(np.any(support_vector(item, index)[mask] > 0))


def support_vector(item: Evidence, index: RegionIndex) -> np.ndarray:
    """How much a locating item supports each district (the prior is handled by
    :func:`prior_vector` and :func:`supports`)."""
    support = np.zeros(len(index.districts))
    for reg in item.regions:
        region = index.get(reg.adcode, reg.level)
        if region is not None:
            np.maximum(support, reg.weight * index.district_mask(region), out=support)
    if item.point is not None:
        # the truth lies within about radius_km of the point: districts whose polygon comes
        # that close share the support, by a Gaussian of their distance from the point
        radius = item.point.radius_km
        for position, dist in index.districts_near(item.point.lon, item.point.lat, 3 * radius):
            support[position] = max(support[position], float(np.exp(-0.5 * (dist / radius) ** 2)))
    return support


@dataclass
class Belief:
    index: RegionIndex
    probs: np.ndarray  # over index.districts
    evidence_count: int  # locating items used (the visual prior is not one)
    visual_prior: bool = False

    def marginal(self, level: Level) -> dict[str, float]:
        keys = (self.index.district_province if level is Level.PROVINCE
                else self.index.district_city if level is Level.CITY
                else np.array([d.adcode for d in self.index.districts]))
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, weights=self.probs, minlength=len(uniq))
        return dict(zip(uniq.tolist(), sums.tolist(), strict=True))

    def mass(self, region: Region) -> float:
        return float(self.probs[self.index.district_mask(region)].sum())

    def top_districts(self, k: int) -> list[tuple[Region, float]]:
        order = np.argsort(-self.probs)[:k]
        return [(self.index.districts[i], float(self.probs[i])) for i in order]


def fuse(evidence: list[Evidence], index: RegionIndex) -> Belief:
    total = len(index.districts)
    log_odds = np.zeros(total)
    used = 0
    for item in evidence:
        if item.kind is EvidenceKind.PRIOR:
            log_odds += item.confidence * np.log(prior_vector(item, index))
            continue
        support = support_vector(item, index)
        covered = float(support.sum())
        if covered <= 0 or covered >= total:
            continue
        odds = item.weight / (1.0 - item.weight)
        lam = (odds * (total - covered) / covered) ** item.confidence
        if lam <= 1.0 + 1e-9:
            continue
        log_odds += np.log1p((lam - 1.0) * support)
        used += 1
    log_odds -= log_odds.max()
    probs = np.exp(log_odds)
    return Belief(index=index, probs=probs / probs.sum(), evidence_count=used,
                  visual_prior=any(e.kind is EvidenceKind.PRIOR for e in evidence))


def _local_xy(lon, lat, lon0, lat0):
    x = np.radians(np.asarray(lon) - lon0) * np.cos(np.radians(lat0)) * 6371.0
    y = np.radians(np.asarray(lat) - lat0) * 6371.0
    return x, y


def geometric_median(lon: np.ndarray, lat: np.ndarray, w: np.ndarray,
                     iterations: int = 60) -> tuple[float, float]:
    """The point minimising the weighted sum of distances (Weiszfeld, local km plane)."""
    keep = w > w.max() * 1e-6
    lon, lat, w = lon[keep], lat[keep], w[keep] / w[keep].sum()
    lon0, lat0 = float(np.sum(w * lon)), float(np.sum(w * lat))
    x, y = _local_xy(lon, lat, lon0, lat0)
    px, py = float(np.sum(w * x)), float(np.sum(w * y))
    for _ in range(iterations):
        d = np.maximum(np.hypot(x - px, y - py), 1e-6)
        nx, ny = np.sum(w * x / d) / np.sum(w / d), np.sum(w * y / d) / np.sum(w / d)
        if np.hypot(nx - px, ny - py) < 1e-3:
            px, py = nx, ny
            break
        px, py = nx, ny
    return (lon0 + float(np.degrees(px / (6371.0 * np.cos(np.radians(lat0))))),
            lat0 + float(np.degrees(py / 6371.0)))


class Decision(BaseModel):
    """The fused hypothesis: one district (hence city and province) and a WGS-84 point."""

    district_adcode: str
    lat: float
    lon: float
    confidence_province: float
    confidence_city: float
    confidence_district: float
    precision_km: float
    anchor_level: str | None  # the deepest level decided by evidence (None: prior only)
    point_source: str  # evidence id, "district_centre" or "expected_distance"


def _best_point_in(district: Region, evidence: list[Evidence], index: RegionIndex):
    best = None
    for item in evidence:
        if item.point is None:
            continue
        inside = index.contains(district, item.point.lon, item.point.lat)
        if inside and (best is None or item.effective_weight > best.effective_weight):
            best = item
    return best


def precision_km(belief: Belief, lon: float, lat: float, evidence: list[Evidence]) -> float:
    """How far the truth is expected to be from (lon, lat): the radius of a point evidence item
    placed exactly there (EXIF, a geocoded POI), else the expected distance under the belief."""
    index = belief.index
    for item in evidence:
        if item.point is not None and haversine_km(
                item.point.lon, item.point.lat, lon, lat) < 1e-3:
            return round(max(item.point.radius_km, 0.05), 3)
    dist = haversine_km(index.district_lon, index.district_lat, lon, lat)
    spread = np.sqrt(index.district_area / np.pi) / 2
    return round(max(float(np.sum(belief.probs * np.hypot(dist, spread))), 0.05), 3)


def decide(belief: Belief, evidence: list[Evidence]) -> Decision:
    index = belief.index
    provinces = belief.marginal(Level.PROVINCE)
    cities = belief.marginal(Level.CITY)
    province = index.get(max(provinces, key=provinces.get), Level.PROVINCE)
    anchor: Region | None = province if provinces[province.adcode] >= ANCHOR_THRESHOLD else None
    if anchor is not None:
        in_province = {c: p for c, p in cities.items()
                       if index.get(c, Level.CITY).province_adcode == province.adcode}
        city = index.get(max(in_province, key=in_province.get), Level.CITY)
        if cities[city.adcode] >= ANCHOR_THRESHOLD:
            anchor = city
            mask = index.district_mask(city)
            best = int(np.argmax(np.where(mask, belief.probs, -1)))
            if belief.probs[best] >= ANCHOR_THRESHOLD:
                anchor = index.districts[best]

    if anchor is not None and anchor.level is Level.DISTRICT:
        district = anchor
        point_item = _best_point_in(district, evidence, index)
        if point_item is not None:
            lon, lat, source = point_item.point.lon, point_item.point.lat, point_item.id
        else:
            lon, lat, source = district.lon, district.lat, "district_centre"
    else:
        mask = (index.district_mask(anchor) if anchor is not None
                else np.ones(len(index.districts), dtype=bool))
        weights = np.where(mask, belief.probs, 0.0)
        lon, lat = geometric_median(index.district_lon, index.district_lat, weights)
        source = "expected_distance"
        district = index.reverse(lon, lat)
        if district is None or (anchor is not None and not index.is_within(district, anchor)):
            # the median fell outside the anchor (a concave region) or into the sea
            district = index.districts[int(np.argmax(weights))]
            lon, lat = district.lon, district.lat

    return Decision(
        district_adcode=district.adcode, lat=round(lat, 6), lon=round(lon, 6),
        confidence_province=round(provinces[district.province_adcode], 4),
        confidence_city=round(cities[district.city_adcode], 4),
        confidence_district=round(float(belief.probs[index.district_position[district.adcode]]), 4),
        precision_km=precision_km(belief, lon, lat, evidence),
        anchor_level=anchor.level.value if anchor is not None else None,
        point_source=source,
    )

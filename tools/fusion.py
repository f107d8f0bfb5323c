"""Evidence fusion: a belief over the 2875 districts, its marginals, and a decision.

Each evidence item multiplies the odds of the districts it supports by a likelihood ratio:
``L(d) = 1 + (λ - 1) · s(d)``, where ``s(d)`` in [0, 1] is how much the item supports district
``d`` (1 inside a supported region, a distance kernel around a point). ``λ`` is chosen so that the
item alone would put probability ``weight`` on its support (``λ = odds(weight) · (N - n) / n`` for
a support of ``n`` of ``N`` districts), then tempered by the reading's confidence (``λ^conf``).
A wrong clue can shift the belief by at most its own ratio, and stronger agreeing evidence
outweighs it. Mentions of one place in the photo's text count as one source (:func:`same_source`).

The visual prior (``prior`` evidence, from the ``cnn_prior`` tool) is not a clue: it is the
starting distribution. Its district probabilities replace the uniform start, tempered by the
item's confidence (``log p · conf``), and never reach zero, so text evidence can overrule it.

Without a visual prior the start is where people live: district populations raised to
:data:`POPULATION_EXPONENT` (see there). A clue's ratio is then set against that start (see
:func:`likelihood`), so that alone it puts on its support the same probability it would from a
uniform start: population moves mass among the places a clue supports alike (029 names 西安 and
咸阳 alike; 西安 holds more people) and outside its support, but never weakens or strengthens
the clue itself.

The decision (:func:`decide`) follows the belief top-down: the most likely province, the most
likely city in it, the most likely district in that, so an answer never names a region the
belief ranks below a sibling; the point lies inside the claimed district.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pydantic import BaseModel

from sinoloc.tools.evidence import Evidence, EvidenceKind, PlacePoint, PointSupport
from sinoloc.tools.prior.distribution import index_vector
from sinoloc.tools.regions import Level, Region, RegionIndex, haversine_km
from sinoloc.tools.rings import ring_point, ring_support

ANCHOR_THRESHOLD = 0.5  # a level counts as decided by evidence when its mass reaches this
# The population start is tempered, p(d) ∝ population(d) ** POPULATION_EXPONENT: 1 would be "a
# photo is where a random resident is", 0 the old uniform-per-district start. Photos (street view
# above all) spread wider than people, along roads and over rural counties, and the population
# table is a proxy with errors of several times in a few counties, so the start is halfway in log
# space: a district of 1.6 M people starts 4× one of 100 k, not 16×. Clues keep their own strength
# (see :func:`likelihood`); the exponent decides how firmly population picks among places a clue
# supports alike and the no-evidence guess. Measured on single clues: from 0.25 up 029, 0731, 028,
# 024 and 0898 name their capital (at 0, 咸阳's 14 districts beat 西安's 13); each step up sends
# more of a plate's province tier to the province's largest city.
POPULATION_EXPONENT = 0.5
TIE_DECIMALS = 12  # probabilities equal to this many decimals are a tie (summation noise)


def rank_key(probability: float, adcode: str, preferred: str | None = None) -> tuple:
    """The one ordering of regions by belief used by the decision and every candidate list:
    more probable first; on a tie the ``preferred`` (claimed) region first, then by adcode."""
    return (-round(probability, TIE_DECIMALS), adcode != preferred, adcode)


def listing_key(probability: float, adcode: str, claimed: str | None = None) -> tuple:
    """The order of a candidate list: the claimed region first — the answer heads its own
    list even where top-down choice and a flat ranking differ (no evidence: the most populous
    province's likeliest district against the single most populous district elsewhere) — then
    the rest by :func:`rank_key`."""
    return (adcode != claimed, *rank_key(probability, adcode, claimed))


@lru_cache(maxsize=4)
def population_start(index: RegionIndex) -> np.ndarray:
    """The start without a visual prior: tempered district population shares (sum 1)."""
    from sinoloc.tools.places.population import district_weights

    weights = np.asarray(district_weights(index), dtype=np.float64)
    if weights.shape != (len(index.districts),) or not np.all(weights > 0):
        raise ValueError("district_weights must give a positive weight for every district")
    start = weights ** POPULATION_EXPONENT
    return start / start.sum()


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
    for ring in item.rings:  # alternatives (a place name shared by a few regions): the best
        np.maximum(support, ring_support(ring, index, population_start(index)), out=support)
    return support


@dataclass
class Belief:
    index: RegionIndex
    probs: np.ndarray  # over index.districts
    evidence_count: int  # locating items used (the visual prior is not one)
    visual_prior: bool = False
    population_prior: bool = False  # started from where people live (no visual prior)

    def marginal(self, level: Level | str) -> dict[str, float]:
        level = Level(level)
        keys = (self.index.district_province if level is Level.PROVINCE
                else self.index.district_city if level is Level.CITY
                else np.array([d.adcode for d in self.index.districts]))
        uniq, inverse = np.unique(keys, return_inverse=True)
        sums = np.bincount(inverse, weights=self.probs, minlength=len(uniq))
        return dict(zip(uniq.tolist(), sums.tolist(), strict=True))

    def mass(self, region: Region) -> float:
        return float(self.probs[self.index.district_mask(region)].sum())

    def top_districts(self, k: int, preferred: str | None = None) -> list[tuple[Region, float]]:
        """The ``k`` most probable districts, the answer's district ``preferred`` first
        (:func:`listing_key`)."""
        districts = self.index.districts
        order = sorted(_contenders(self.probs, k, self.index, preferred), key=lambda i: listing_key(
            float(self.probs[i]), districts[i].adcode, preferred))[:k]
        return [(districts[i], float(self.probs[i])) for i in order]


def _contenders(probs: np.ndarray, k: int, index: RegionIndex, preferred: str | None
                ) -> list[int]:
    """The districts that can be among the first ``k`` of :func:`listing_key`'s order: the
    preferred one and every district within rounding (:data:`TIE_DECIMALS`) of the ``k + 1``-th
    largest probability, found by numpy so that only these few are sorted in Python (a sort of
    all 2875 districts per answer was a batch's largest cost outside OCR)."""
    n = len(probs)
    if k + 1 >= n:
        return list(range(n))
    kth = np.partition(probs, n - (k + 1))[n - (k + 1)]  # the (k + 1)-th largest
    # anything further below cannot round up to it (rounding moves a value by at most 0.5e-12)
    picked = np.flatnonzero(probs >= kth - 10.0 ** -(TIE_DECIMALS - 1)).tolist()
    position = index.district_position.get(preferred) if preferred else None
    if position is not None and position not in picked:
        picked.append(position)
    return picked


def likelihood(support: np.ndarray, lam: float, start: np.ndarray | None) -> np.ndarray:
    """An item's likelihood ratio per district, ``1 + (λ - 1) · s(d)`` from a uniform start.

    From a population start the ratio is set per tier of equal support (the districts a clue
    supports alike: 西安 and 咸阳 for 029, the rest of the province for a plate): each tier then
    holds what it would hold from a uniform start with this item alone, and population only
    moves mass within a tier. So the start settles which of equally supported places is likelier
    but never which tier a clue favours; a more supported tier never gets a lower ratio."""
    flat = 1.0 + (lam - 1.0) * support
    if start is None:
        return flat
    _, tier = np.unique(support, return_inverse=True)  # ascending support: tier 0 the least
    ratio = np.bincount(tier, weights=flat) / np.bincount(tier, weights=start)
    ratio = np.maximum.accumulate(ratio)
    return ratio[tier] / ratio[0]


def same_source(item: Evidence) -> tuple | None:
    """What makes text on the photo one source: its kind and the place it names. Several
    mentions of one place on one photo (a district's name on two signs, on a shop front and its
    awning, a line and its zoomed re-read) are not independent evidence: fusion counts them once,
    at the strongest reading, so repeating a place cannot outweigh a full address and a phone
    number that point elsewhere. None for evidence not read off the photo's text (a geocoded POI,
    a web result, EXIF), which counts item by item."""
    if item.span_id is None:
        return None
    point = None if item.point is None else (round(item.point.lat, 4), round(item.point.lon, 4))
    return (item.kind.value, tuple(sorted((r.level, r.adcode) for r in item.regions)), point)


# beliefs by the content of their evidence: a run fuses once per change of its evidence, however
# many readers ask (the answer, verify's checks, the prediction, the map)
_BELIEFS: OrderedDict[tuple[int, str], Belief] = OrderedDict()
_BELIEFS_SIZE = 16


def fuse(evidence: list[Evidence], index: RegionIndex) -> Belief:
    """The belief over districts from ``evidence`` (cached: the same evidence on the same index
    gives the same, read-only belief)."""
    key = (id(index), json.dumps([e.model_dump(mode="json") for e in evidence], sort_keys=True,
                                 ensure_ascii=False))
    belief = _BELIEFS.get(key)
    if belief is None:
        belief = _fuse(evidence, index)
        belief.probs.setflags(write=False)  # shared by every reader: nobody may change it
        _BELIEFS[key] = belief
        while len(_BELIEFS) > _BELIEFS_SIZE:
            _BELIEFS.popitem(last=False)
    else:
        _BELIEFS.move_to_end(key)
    return belief


def _fuse(evidence: list[Evidence], index: RegionIndex) -> Belief:
    total = len(index.districts)
    visual = any(e.kind is EvidenceKind.PRIOR for e in evidence)
    # the start: the visual prior where there is one (below), else where people live
    start = None if visual else population_start(index)
    log_odds = np.zeros(total) if start is None else np.log(start)
    sources: dict[object, tuple[float, np.ndarray]] = {}  # one source → its strongest reading
    for position, item in enumerate(evidence):
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
        key = same_source(item) or position
        if key not in sources or lam > sources[key][0]:
            sources[key] = (lam, support)
    for lam, support in sources.values():
        log_odds += np.log(likelihood(support, lam, start))
    used = len(sources)
    log_odds -= log_odds.max()
    probs = np.exp(log_odds)
    return Belief(index=index, probs=probs / probs.sum(), evidence_count=used,
                  visual_prior=visual, population_prior=start is not None)


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


class PointEstimate(BaseModel):
    lat: float
    lon: float
    expected_km: float  # the belief's expected distance from this point


class Decision(BaseModel):
    """The fused hypothesis: one district (hence city and province) and a WGS-84 point inside
    it. ``distance_optimal`` is the point minimising the expected distance over the whole belief
    when that is not the answer's point (it may lie in a region the belief does not rank first)."""

    district_adcode: str
    lat: float
    lon: float
    confidence_province: float
    confidence_city: float
    confidence_district: float
    precision_km: float
    anchor_level: str | None  # the deepest claimed level whose mass reaches ANCHOR_THRESHOLD
    distance_optimal: PointEstimate | None = None


def anchor_points(item: Evidence) -> list[PointSupport | PlacePoint]:
    """Where an item may put the answer: its point (EXIF, a geocoded POI), else the points of
    the place it names (a town, one per region it may be in), which are not support but say
    where in the claimed district to answer."""
    return [item.point] if item.point is not None else list(item.place_points)


def _best_point_in(district: Region, evidence: list[Evidence], index: RegionIndex):
    """The strongest item whose point (or named place's point) lies in the claimed district;
    a measured point outranks a named place's."""
    best, best_key = None, None
    for item in evidence:
        for point in anchor_points(item):
            if not index.contains(district, point.lon, point.lat):
                continue
            key = (item.point is not None, item.effective_weight)
            if best_key is None or key > best_key:
                best, best_key = point, key
    return best


def precision_km(belief: Belief, lon: float, lat: float, evidence: list[Evidence]) -> float:
    """How far the truth is expected to be from (lon, lat): the radius of a point evidence item
    placed exactly there (EXIF, a geocoded POI, a named town's point), else the expected
    distance under the belief."""
    index = belief.index
    for item in evidence:
        for point in anchor_points(item):
            if haversine_km(point.lon, point.lat, lon, lat) < 1e-3:
                return round(max(point.radius_km, 0.05), 3)
    dist = haversine_km(index.district_lon, index.district_lat, lon, lat)
    spread = np.sqrt(index.district_area / np.pi) / 2
    return round(max(float(np.sum(belief.probs * np.hypot(dist, spread))), 0.05), 3)


def expected_km(belief: Belief, lon: float, lat: float) -> float:
    """The belief's expected distance (district centres) from a point."""
    index = belief.index
    return float(np.sum(belief.probs * haversine_km(index.district_lon, index.district_lat,
                                                      lon, lat)))


def claimed_regions(belief: Belief) -> tuple[Region, Region, Region]:
    """(province, city, district) chosen top-down: the most probable province, the most
    probable city in it, the most probable district in that (ties by :func:`rank_key`)."""
    index = belief.index
    provinces, cities = belief.marginal(Level.PROVINCE), belief.marginal(Level.CITY)
    province = index.require(min(provinces, key=lambda c: rank_key(provinces[c], c)),
                             Level.PROVINCE)
    in_province = np.unique(index.district_city[index.district_mask(province)]).tolist()
    city = index.require(min(in_province, key=lambda c: rank_key(cities[c], c)), Level.CITY)
    positions = np.flatnonzero(index.district_mask(city))
    best = min(positions, key=lambda i: rank_key(float(belief.probs[i]),
                                                 index.districts[i].adcode))
    return province, city, index.districts[int(best)]


def _median(belief: Belief, scope: Region | None) -> tuple[float, float] | None:
    index = belief.index
    weights = (belief.probs if scope is None
               else np.where(index.district_mask(scope), belief.probs, 0.0))
    if weights.sum() <= 0:
        return None
    return geometric_median(index.district_lon, index.district_lat, weights)


def decide(belief: Belief, evidence: list[Evidence]) -> Decision:
    index = belief.index
    province, city, district = claimed_regions(belief)
    masses = [belief.mass(r) for r in (province, city, district)]
    anchor = None
    for region, mass in zip((province, city, district), masses, strict=True):
        if mass < ANCHOR_THRESHOLD:
            break
        anchor = region

    overall = _median(belief, None)
    anchor_at = _best_point_in(district, evidence, index)
    if anchor_at is not None:
        lon, lat = anchor_at.lon, anchor_at.lat
    else:
        # the expected-distance point of the whole belief, or of the belief within the claimed
        # province or city, whichever lies inside the claimed district and is expected nearest
        inside = [pt for pt in (overall, _median(belief, province), _median(belief, city))
                  if pt is not None and index.contains(district, *pt)]
        if inside:
            lon, lat = min(inside, key=lambda pt: expected_km(belief, *pt))
        else:
            lon, lat = district.lon, district.lat
        # guide-sign rings say where in the district: the point there that lies in most of them
        lon, lat = ring_point(district, evidence, index, (lon, lat)) or (lon, lat)

    optimal = None
    if overall is not None and haversine_km(overall[0], overall[1], lon, lat) >= 1e-3:
        optimal = PointEstimate(lat=round(overall[1], 6), lon=round(overall[0], 6),
                                expected_km=round(expected_km(belief, *overall), 3))
    return Decision(
        district_adcode=district.adcode, lat=round(lat, 6), lon=round(lon, 6),
        confidence_province=round(masses[0], 4), confidence_city=round(masses[1], 4),
        confidence_district=round(masses[2], 4),
        precision_km=precision_km(belief, lon, lat, evidence),
        anchor_level=anchor.level.value if anchor is not None else None,
        distance_optimal=optimal,
    )

"""Guide-sign rings ("N km from PLACE", :class:`~sinoloc.tools.clues.schema.Ring`) in the
belief and in the answer: how much a ring supports each district, and where in the claimed
district the rings put the answer's point."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely

from sinoloc.tools.evidence import Evidence, Ring
from sinoloc.tools.regions import Region, RegionIndex, haversine_km

GRID = 24  # candidate points per side of a district's bounding box


def ring_support(ring: Ring, index: RegionIndex, people: np.ndarray | None = None) -> np.ndarray:
    """A guide sign's "N km from PLACE": how likely the photo is in each district given that it
    lies on the ring, scaled so the likeliest district has 1. A photo is in district ``d`` as
    often as ``people[d]`` says (where people live: the belief's population start), anywhere in
    it, so ``d`` is supported by the share of its area on the ring times ``people[d]``: a vast
    county that holds much of the ring does not outrank the towns and city districts along it
    for its area alone. Without ``people``, by the area of the ring it holds. Cached: verify
    asks again for every claim."""
    return _ring_support(ring.lon, ring.lat, ring.inner_km, ring.outer_km, index,
                         None if people is None else _Key(people))


class _Key:
    """An array as a cache key, by identity (the population start is cached and read-only)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __hash__(self) -> int:
        return id(self.array)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.array is self.array


@lru_cache(maxsize=64)
def _ring_support(lon: float, lat: float, inner_km: float, outer_km: float,
                  index: RegionIndex, people: _Key | None) -> np.ndarray:
    support = np.zeros(len(index.districts))
    for position, overlap_km2 in index.districts_in_ring(lon, lat, inner_km, outer_km):
        support[position] = overlap_km2
    if people is not None:
        support *= people.array / np.maximum(index.district_areas_km2(), 1e-6)
    if support.max() > 0:
        support /= support.max()
    support.setflags(write=False)
    return support


def ring_point(district: Region, evidence: list[Evidence], index: RegionIndex,
               near: tuple[float, float]) -> tuple[float, float] | None:
    """The point of ``district`` that lies in the most rings (weighted by each item's strength;
    an item's alternative rings count once), nearest ``near`` (the belief's own point) among
    equals; None without rings or where no point of the district lies in any."""
    items = [(item.effective_weight, item.rings) for item in evidence if item.rings]
    if not items:
        return None
    polygon = index.district_polygon_wgs84(district)
    minx, miny, maxx, maxy = polygon.bounds
    xs, ys = np.meshgrid(np.linspace(minx, maxx, GRID), np.linspace(miny, maxy, GRID))
    lon, lat = xs.ravel(), ys.ravel()
    inside = shapely.contains_xy(polygon, lon, lat)
    lon, lat = lon[inside], lat[inside]
    if not len(lon):
        return None
    score = np.zeros(len(lon))
    for weight, rings in items:
        hit = np.zeros(len(lon), dtype=bool)
        for ring in rings:
            dist = haversine_km(ring.lon, ring.lat, lon, lat)
            hit |= (dist >= ring.inner_km) & (dist <= ring.outer_km)
        score += weight * hit
    if score.max() <= 0:
        return None
    best = np.flatnonzero(score >= score.max() - 1e-9)
    nearest = best[int(np.argmin(haversine_km(near[0], near[1], lon[best], lat[best])))]
    return float(lon[nearest]), float(lat[nearest])

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


def ring_support(ring: Ring, index: RegionIndex) -> np.ndarray:
    """A guide sign's "N km from PLACE": each district supported by the area of the ring it
    holds, scaled so the district holding most has 1 — a photo anywhere on the ring is likelier
    in a district that holds more of it (so a small city district wholly inside a 5 km disc
    does not outrank the county around the place). Cached: verify asks again for every claim."""
    return _ring_support(ring.lon, ring.lat, ring.inner_km, ring.outer_km, index)


@lru_cache(maxsize=64)
def _ring_support(lon: float, lat: float, inner_km: float, outer_km: float,
                  index: RegionIndex) -> np.ndarray:
    support = np.zeros(len(index.districts))
    for position, overlap_km2 in index.districts_in_ring(lon, lat, inner_km, outer_km):
        support[position] = overlap_km2
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

"""Probe kinds that read a sign as an expert does: a guide sign's distances, a town's own point.

- ``guide_sign``: an expressway guide sign — a national route (G15 沈海高速, one that crosses the
  truth's province per ``tools/knowledge/data/roads.csv``) and the next two or three places with
  their distances, nearest first. The truth is a real town (its GeoNames point from
  ``tools/places/data/town_points.csv.gz``); the places are an exit town (镇/乡) 4–30 km away
  (its bare name, as exits are signed) and one or two of the six nearest counties or cities
  30–250 km away in about the same direction (within 60° of the exit's bearing: a sign lists
  what lies ahead), each at its
  straight-line distance from the truth times a seeded road factor of 1.1–1.35. A county's
  point is its centroid (the region index), a city's its most populous urban district's (its
  seat). The route is consistent with the province, not checked against a road geometry (we
  ship none). A guide sign names no district: the truth names province and city; the
  district is kept in the note and reported apart.
- ``town_point``: a town's own sign whose town has a GeoNames point: alone with a nationally
  unique full name (``…镇人民政府``, ``欢迎来到…``), or after its county (``…县…镇``). The truth
  is the town's district and the town's point, so the km error measures the answer's point.

Makers have the signature of :mod:`.probe_data`'s and are registered there (``KINDS``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sinoloc.tools.places.town_points import TownPoint
    from sinoloc.tools.regions import Region, RegionIndex

EXIT_KM = (4.0, 30.0)
FAR_KM = (30.0, 250.0)
MAX_BEARING_DEG = 60.0
NEAREST_FAR = 6  # the far places are drawn from the six nearest ahead: a sign lists the next ones
ROAD_FACTOR = (1.1, 1.35)
_FORMATS = ("{name} {km} km", "{name}{km}km", "{name} {km}公里", "距{name} {km}公里")


def _km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    from sinoloc.tools.regions import haversine_km

    return float(haversine_km(lon1, lat1, lon2, lat2))


def _bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360


def _angle(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


@lru_cache(maxsize=1)
def _towns_by_province() -> dict[str, list[TownPoint]]:
    """Towns with a point whose region is a district of the index, by province adcode."""
    from sinoloc.tools.places.town_points import get_town_points
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    out: dict[str, list[TownPoint]] = {}
    for point in get_town_points().points:
        district = index.get(point.adcode, "district") if point.level == "district" else None
        if district is not None and district.city_adcode:
            out.setdefault(district.province_adcode, []).append(point)
    return {k: sorted(v, key=lambda p: (p.adcode, p.town)) for k, v in out.items()}


def _unique_full_name(name: str) -> bool:
    from sinoloc.tools.places.towns import NameKind, get_towns

    found = get_towns().lookup(name, NameKind.TOWN)
    return len(found) == 1 and len(found[0][1]) == 1


def _exit_name(town: TownPoint, index: RegionIndex) -> str | None:
    """How an exit to the town is signed: its bare name (华亭), where that is no admin name and
    names at most three towns; else None."""
    from sinoloc.tools.places.towns import NameKind, bare_name, get_towns

    stem = bare_name(town.town) if town.town.endswith(("镇", "乡")) else None
    if stem is None or index.lookup(stem):
        return None
    regions = {r for _, rs in get_towns().lookup(stem, NameKind.TOWN_BARE) for r in rs}
    return stem if 0 < len(regions) <= 3 else None


def _seat_point(city: Region, index: RegionIndex) -> tuple[float, float]:
    from sinoloc.tools.places.population import district_weights

    weights = district_weights(index)
    urban = [d for d in index.children(city) if d.name.endswith("区")] or index.children(city)
    seat = max(urban, key=lambda d: (weights[index.district_position[d.adcode]], d.adcode))
    return seat.lon, seat.lat


@lru_cache(maxsize=1)
def _far(index: RegionIndex) -> list[tuple[str, float, float]]:
    """(sign name, lon, lat) of every county-level place (县 / county-level 市, by short name)
    and every prefecture city (at its seat) whose short name names at most three regions."""
    from sinoloc.tools.regions import Level

    places = []
    for region in [*index.cities(), *index.districts]:
        if region.level is Level.DISTRICT and not region.name.endswith(("县", "市")):
            continue
        name = region.short
        found = [r for r in index.lookup(name) if r.level is not Level.PROVINCE]
        if len(name) < 2 or not found or len(found) > 3:
            continue
        if region.level is Level.CITY:
            if not index.children(region):
                continue
            places.append((name, *_seat_point(region, index)))
        else:
            places.append((name, region.lon, region.lat))
    return places



def _route(province: Region, rng: random.Random) -> str:
    from sinoloc.tools.knowledge import get_knowledge

    roads = sorted((r for r in get_knowledge().roads_by_code.values()
                    if r.kind == "expressway" and any(p.adcode == province.adcode for p in r.provinces)),
                   key=lambda r: r.code)
    road = rng.choice(roads)
    return rng.choice((f"{road.code} {road.name}", road.code))


def _line(name: str, km: float, rng: random.Random) -> str:
    return rng.choice(_FORMATS).format(name=name, km=f"{km:.0f}")


def _truth_at(ctx, town: TownPoint) -> Any:
    district = ctx.region(town.adcode, "district")
    return ctx.truth(district).model_copy(update={"lat": town.lat, "lon": town.lon})


def _exits(town: TownPoint, towns: list[TownPoint], index: RegionIndex) -> list[tuple[TownPoint, str]]:
    """The towns 4–30 km from ``town`` that a sign can name as an exit, with that name."""
    near = [t for t in towns if t is not town
            and EXIT_KM[0] <= _km(town.lon, town.lat, t.lon, t.lat) <= EXIT_KM[1]]
    return [(t, name) for t in near for name in [_exit_name(t, index)] if name is not None]


def _far_ahead(town: TownPoint, exit_town: TownPoint, exit_name: str,
               index: RegionIndex) -> list[tuple[str, float, float]]:
    """The far places 30–250 km from ``town`` within 60° of the exit's bearing, nearest first."""
    heading = _bearing(town.lon, town.lat, exit_town.lon, exit_town.lat)
    far = [(n, lo, la) for n, lo, la in _far(index)
           if n != exit_name and FAR_KM[0] <= _km(town.lon, town.lat, lo, la) <= FAR_KM[1]
           and _angle(_bearing(town.lon, town.lat, lo, la), heading) <= MAX_BEARING_DEG]
    far.sort(key=lambda f: (_km(town.lon, town.lat, f[1], f[2]), f[0]))
    return far


def _guide_sign(ctx, ask, rng: random.Random, town: TownPoint, exit_stop: tuple[str, float, float],
                far: list[tuple[str, float, float]]) -> dict:
    """The probe: the exit and one or two of the nearest far places, at seeded road distances."""
    chosen = rng.sample(far[:NEAREST_FAR], min(len(far), rng.choice((1, 2))))
    stops = [exit_stop, *chosen]
    factor = rng.uniform(*ROAD_FACTOR)
    dists = sorted((max(1.0, round(_km(town.lon, town.lat, lo, la) * factor)), n) for n, lo, la in stops)
    sign = [_route(ask.province, rng), *(_line(n, km, rng) for km, n in dists)]
    truth = _truth_at(ctx, town)
    district = truth.district
    return dict(variant="sign", sign=sign, key=dists[0][1],
                truth=truth.model_copy(update={"level": "city", "district": None,
                                               "district_adcode": None}),
                note=f"at {town.town}, {district} ({town.adcode}); road factor {factor:.2f}")


def guide_sign_probes(ctx, ask, rng: random.Random) -> list[dict]:
    """A guide sign near a real town (see the module docstring); none where the province has no
    town with an exit and a far place to sign (every mainland province has)."""
    index = ctx.index
    towns = _towns_by_province().get(ask.province.adcode, [])
    for town in rng.sample(towns, min(len(towns), 40)):
        exits = _exits(town, towns, index)
        if not exits:
            continue
        exit_town, exit_name = rng.choice(exits)
        far = _far_ahead(town, exit_town, exit_name, index)
        if not far:
            continue
        return [_guide_sign(ctx, ask, rng, town, (exit_name, exit_town.lon, exit_town.lat), far)]
    return []


def town_point_probes(ctx, ask, rng: random.Random) -> list[dict]:
    """A town's own sign, the town having a point: a unique full name alone, or after its
    county's name."""
    index = ctx.index
    words = {w for _, r in index.names() for w in (r.name, r.short) if len(w) >= 2}
    towns = _towns_by_province().get(ask.province.adcode, [])
    variant = rng.choice(("alone", "county"))
    if variant == "alone":
        pool = [t for t in towns if t.town.endswith(("镇", "乡")) and _unique_full_name(t.town)
                and not any(w in t.town for w in words)]
    else:
        pool = [t for t in towns if t.town.endswith(("镇", "乡", "街道"))]
    town = rng.choice(pool)
    county = ctx.region(town.adcode, "district")
    if variant == "alone":
        sign = rng.choice(([f"{town.town}人民政府"], [f"欢迎来到{town.town}"], [f"{town.town}中心卫生院"]))
        key = town.town
    else:
        sign = [f"{county.name}{town.town}{rng.choice(ctx.roads)}{rng.randint(1, 199)}号"]
        key = county.name
    return [dict(variant=variant, sign=sign, key=key, truth=_truth_at(ctx, town),
                 note=f"{town.town}, {county.name}: GeoNames {town.geonameid}")]


MAKERS: dict[str, Callable[..., list[dict]]] = {
    "guide_sign": guide_sign_probes, "town_point": town_point_probes}

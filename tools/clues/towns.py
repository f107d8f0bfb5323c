"""Town and village names → their county (a ``place_name`` clue).

Rules, strongest first:
- the line also names the county, city or province a candidate lies in (``嘉定区华亭镇``), or a
  town and a village of the line share a county (``华亭镇北新村``): that county; a line whose
  address names a district none of the candidates lies in is that district's, not the town's
  (``北京市朝阳区建国门街道``: 建国门 is 东城区's; the explicit district wins);
- a town's full name with its suffix (``华亭镇``, ``南翔镇``, ``嘉定镇街道``);
- a town's bare name (``华亭``) only on a guide sign (an arrow, a distance, 方向) — elsewhere a
  two-character word is too often something else;
- a village's full name of at least three characters (``北新村``), weaker: shops are called
  …村 too.
A name shared by more than :data:`MAX_REGIONS` counties (新村, 城关镇, 和平村) is not a clue
unless another token of the line picks one of them; the remaining alternatives are split by
population where every clue is (``clues.ambiguity``). Names inside an administrative name
(嘉定 of 嘉定区) are the address clue's.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from sinoloc.tools.clues.gazetteer import Gazetteer, Mention
from sinoloc.tools.clues.schema import Clue, ClueKind, PlacePoint, supports_for
from sinoloc.tools.places.town_points import get_town_points
from sinoloc.tools.places.towns import NameKind, PlaceHit, get_towns
from sinoloc.tools.regions import Level, Region, RegionIndex

MAX_REGIONS = 3
MIN_VILLAGE_CHARS = 3
SOURCE = "national division codes (NBS) via jionlp 1.5.31 dictionary (Apache-2.0)"
_GUIDE = re.compile(r"[→←↑↗↖➔➜➡⬅⇒]|方向|前方|\d+(?:\.\d+)?\s*(?:km|公里|千米|米|m)(?![a-z])", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# (strength, confidence) by how the name was found
_AGREED = (0.93, 0.9)
_PEER = (0.9, 0.85)
_TOWN = (0.85, 0.85)
_BARE = (0.75, 0.7)
_VILLAGE = (0.7, 0.65)


def _group(hits: list[PlaceHit]) -> list[list[PlaceHit]]:
    """Hits of one span together (a name can be a town here and a village there)."""
    groups: dict[tuple[int, int], list[PlaceHit]] = {}
    for hit in hits:
        groups.setdefault((hit.start, hit.end), []).append(hit)
    return list(groups.values())


def _eligible(group: list[PlaceHit], guide: bool) -> list[PlaceHit]:
    """A bare town name counts on a guide sign, or where it is also another town's full name
    (乌镇: 佳县's 乌镇 and 桐乡's 乌镇镇)."""
    full_town = any(h.kind is NameKind.TOWN for h in group)
    return [h for h in group
            if h.kind is NameKind.TOWN
            or (h.kind is NameKind.TOWN_BARE and (guide or full_town))
            or (h.kind is NameKind.VILLAGE and len(h.text) >= MIN_VILLAGE_CHARS)]


class _Reading(NamedTuple):
    """What a group of hits says: the counties chosen, how strongly, and why (for the detail)."""

    regions: list[Region]
    strength: float
    confidence: float
    how: str


def _outside_admin(group: list[PlaceHit], mentions: list[Mention], guide: bool) -> list[PlaceHit]:
    """The eligible hits of one span the address clue does not already own: nothing inside an
    administrative name (嘉定 of 嘉定区), only full town names where one overlaps it, and none
    that straddles the boundary of one (洛市镇 across 商洛市|镇安县: the text does not segment it
    as that name)."""
    start, end = group[0].start, group[0].end
    inside_admin = any(m.start <= start and end <= m.end for m in mentions)
    overlapping = [m for m in mentions if m.start < end and start < m.end]
    straddles = any(not (start <= m.start and m.end <= end) for m in overlapping)
    return [h for h in _eligible(group, guide)
            if not inside_admin and not straddles and (h.kind is NameKind.TOWN or not overlapping)]


def _regions_of(group: list[PlaceHit], index: RegionIndex) -> list[Region]:
    """The counties the hits name, each once, in the order first named; adcodes the boundary
    index lacks are left out (no region to support)."""
    found: dict[tuple[str, str], Region] = {}
    for hit in group:
        for level, adcode in hit.regions:
            region = index.get(adcode, level)
            if region is not None:
                found[region.key] = region
    return list(found.values())


def _candidates(hits: list[PlaceHit], mentions: list[Mention], index: RegionIndex,
                guide: bool) -> list[tuple[list[PlaceHit], list[Region]]]:
    """Each span's usable hits with the counties they name; spans that name none are dropped."""
    candidates: list[tuple[list[PlaceHit], list[Region]]] = []
    for group in _group(hits):
        group = _outside_admin(group, mentions, guide)
        regions = _regions_of(group, index)
        if regions:
            candidates.append((group, regions))
    return candidates


def _by_kind(group: list[PlaceHit], regions: list[Region]) -> _Reading:
    """A name standing alone on its line: as strong as its kind (full town name, bare town name
    on a guide sign, village name)."""
    kinds = {h.kind for h in group}
    if NameKind.TOWN in kinds:
        return _Reading(regions, *_TOWN, "town name")
    if NameKind.TOWN_BARE in kinds:
        return _Reading(regions, *_BARE, "town name without suffix on a guide sign")
    return _Reading(regions, *_VILLAGE, "village name")


def _choose(group: list[PlaceHit], regions: list[Region], peers: set[tuple[str, str]],
            admin: list[Region], named_districts: set[tuple[str, str]],
            index: RegionIndex) -> _Reading | None:
    """The strongest rule that applies: the line names a region holding a candidate, another
    name of the line shares a county with it, else the name by its kind. None where the line
    names the very districts chosen: the address clue already says so, and a second clue would
    count the same words twice."""
    agreed = [r for r in regions if any(index.is_within(r, a) for a in admin)]
    if named_districts and not any(r.key in named_districts for r in agreed):
        return None  # the line's address names its district, and this name lies in none of them
    if agreed:
        if all(r.key in named_districts for r in agreed):
            return None
        return _Reading(agreed, *_AGREED, "the line names its region")
    shared = [r for r in regions if r.key in peers]
    if shared:
        return _Reading(shared, *_PEER, "a town and a village of the line agree")
    return _by_kind(group, regions)


def _peers(candidates: list[tuple[list[PlaceHit], list[Region]]], i: int) -> set[tuple[str, str]]:
    """The counties the line's other names point to: a town and a village agreeing on one
    county pick it out of each name's alternatives."""
    return {r.key for j, (_, other) in enumerate(candidates) if j != i for r in other}


def _hedged(reading: _Reading) -> _Reading:
    """A name shared with other counties is weaker and less sure, as the address clue treats an
    ambiguous name."""
    if len(reading.regions) <= 1:
        return reading
    return reading._replace(strength=min(reading.strength, 0.8), confidence=reading.confidence * 0.8)


def _same_regions(clues: list[Clue], regions: list[Region]) -> Clue | None:
    """An earlier clue naming exactly these counties (华亭镇 … 北新村): the names agree, so they
    make one clue, not two that would count the same evidence twice."""
    keys = {r.key for r in regions}
    return next((c for c in clues if {(s.level, s.adcode) for s in c.regions} == keys), None)


def town_points(group: list[PlaceHit], regions: list[Region]) -> list[PlacePoint]:
    """The GeoNames points of the town a name may be, one per region that has a town (not a
    village) of that name with a point (:mod:`sinoloc.tools.places.town_points`): the answer
    takes the one in the district the belief decides."""
    if not any(h.kind in (NameKind.TOWN, NameKind.TOWN_BARE) for h in group):
        return []
    found = [get_town_points().find(r.adcode, group[0].text) for r in regions]
    return [PlacePoint(name=f.label, lat=f.lat, lon=f.lon, radius_km=f.radius_km)
            for f in found if f is not None]


def _clue(name: str, reading: _Reading, index: RegionIndex, span_id: str | None,
          points: list[PlacePoint]) -> Clue:
    """The clue of one name; ``(ambiguous)`` tells a reader the mass is split between counties."""
    supports, label = supports_for(reading.regions, index)
    ambiguous = " (ambiguous)" if len(reading.regions) > 1 else ""
    at = f"; town point {'、'.join(p.name for p in points)}" if points else ""
    return Clue(
        kind=ClueKind.PLACE, text=name, span_id=span_id, confidence=reading.confidence,
        strength=reading.strength, regions=supports,
        detail=f"{reading.how}: {name} → {label}{ambiguous}{at}", source=SOURCE,
        place_points=points)


def _point_the_address(group: list[PlaceHit], regions: list[Region], admin: list[Region],
                       addresses: list[Clue]) -> None:
    """A town the address clue's district already names (嘉定区华亭镇) adds no mass, but its
    point tells the answer where in the district: it goes on that address clue."""
    named = [r for r in regions if any(r.key == a.key for a in admin)]
    points = town_points(group, named)
    if len(points) != 1:
        return
    for clue in addresses:
        if not clue.place_points and any((s.level, s.adcode) == named[0].key for s in clue.regions):
            clue.place_points = points
            clue.detail += f"; town point {points[0].name}"


def town_clues(text: str, gazetteer: Gazetteer, span_id: str | None = None,
               addresses: list[Clue] | None = None) -> list[Clue]:
    """The ``place_name`` clues of one line of text (the rules are in the module docstring).
    A town that decides a county brings its point; where the line's ``addresses`` already name
    the county, the point goes on that address clue."""
    if not _CJK.search(text):
        return []
    mentions = gazetteer.mentions(text)
    hits = get_towns().find(_mask_full_names(text, mentions))
    if not hits:
        return []
    index = gazetteer.index
    admin = [r for m in mentions for r in m.candidates]
    named_districts = {r.key for r in admin if r.level is Level.DISTRICT}
    candidates = _candidates(hits, mentions, index, bool(_GUIDE.search(text)))
    clues: list[Clue] = []
    for i, (group, regions) in enumerate(candidates):
        reading = _choose(group, regions, _peers(candidates, i), admin, named_districts, index)
        if reading is None:  # named by the address clue
            _point_the_address(group, regions, admin, addresses or [])
        elif len(reading.regions) <= MAX_REGIONS:  # else a common name: 新村, 城关镇, 和平村
            _add_reading(clues, group, _hedged(reading), index, span_id)
    return clues


def _mask_full_names(text: str, mentions: list[Mention]) -> str:
    """``text`` with its full admin names masked (□): no part of a town's name, they cannot start
    a bare town name that hides the real one behind it (宁化县河龙乡: 县河 would hide 河龙乡)."""
    return "".join("□" if any(m.full and m.start <= i < m.end for m in mentions) else ch
                   for i, ch in enumerate(text))


def _add_reading(clues: list[Clue], group: list[PlaceHit], reading: _Reading, index: RegionIndex,
                 span_id: str | None) -> None:
    """Add the clue of one name to ``clues``, or its name to an earlier clue of the same counties."""
    name = group[0].text
    same = _same_regions(clues, reading.regions)
    if same is not None:
        same.text += name
        same.detail += f"、{name}"
        return
    clues.append(_clue(name, reading, index, span_id, town_points(group, reading.regions)))

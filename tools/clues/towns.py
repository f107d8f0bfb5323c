"""Town and village names → their county (a ``place_name`` clue).

Rules, strongest first:
- the line also names the county, city or province a candidate lies in (``嘉定区华亭镇``), or a
  town and a village of the line share a county (``华亭镇北新村``): that county;
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

from sinoloc.tools.clues.gazetteer import Gazetteer
from sinoloc.tools.clues.schema import Clue, ClueKind, supports_for
from sinoloc.tools.places.towns import NameKind, PlaceHit, get_towns
from sinoloc.tools.regions import Level, Region

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


def town_clues(text: str, gazetteer: Gazetteer, span_id: str | None = None) -> list[Clue]:
    if not _CJK.search(text):
        return []
    hits = get_towns().find(text)
    if not hits:
        return []
    index = gazetteer.index
    mentions = gazetteer.mentions(text)
    admin = [r for m in mentions for r in m.candidates]
    named_districts = {r.key for r in admin if r.level is Level.DISTRICT}
    guide = bool(_GUIDE.search(text))

    candidates: list[tuple[list[PlaceHit], list[Region]]] = []
    for group in _group(hits):
        start, end = group[0].start, group[0].end
        inside_admin = any(m.start <= start and end <= m.end for m in mentions)
        overlaps_admin = any(m.start < end and start < m.end for m in mentions)
        group = [h for h in _eligible(group, guide)
                 if not inside_admin and (h.kind is NameKind.TOWN or not overlaps_admin)]
        found: dict[tuple[str, str], Region] = {}
        for hit in group:
            for level, adcode in hit.regions:
                region = index.get(adcode, level)
                if region is not None:
                    found[region.key] = region
        if found:
            candidates.append((group, list(found.values())))

    clues: list[Clue] = []
    for i, (group, regions) in enumerate(candidates):
        peers = {r.key for j, (_, other) in enumerate(candidates) if j != i for r in other}
        agreed = [r for r in regions if any(index.is_within(r, a) for a in admin)]
        if agreed:
            chosen, (strength, confidence), how = agreed, _AGREED, "the line names its region"
            if all(r.key in named_districts for r in chosen):
                continue  # the address clue already names this district
        elif any(r.key in peers for r in regions):
            chosen, (strength, confidence) = [r for r in regions if r.key in peers], _PEER
            how = "a town and a village of the line agree"
        else:
            kinds = {h.kind for h in group}
            chosen = regions
            if NameKind.TOWN in kinds:
                (strength, confidence), how = _TOWN, "town name"
            elif NameKind.TOWN_BARE in kinds:
                (strength, confidence), how = _BARE, "town name without suffix on a guide sign"
            else:
                (strength, confidence), how = _VILLAGE, "village name"
        if len(chosen) > MAX_REGIONS:
            continue  # a common name: 新村, 城关镇, 和平村
        if len(chosen) > 1:  # shared with other counties: as the address clue does
            strength, confidence = min(strength, 0.8), confidence * 0.8
        name = group[0].text
        keys = {r.key for r in chosen}
        same = next((c for c in clues if {(s.level, s.adcode) for s in c.regions} == keys), None)
        if same is not None:  # 华亭镇 … 北新村: one clue for the agreeing names, not two
            same.text += name
            same.detail += f"、{name}"
            continue
        supports, label = supports_for(chosen, index)
        clues.append(Clue(
            kind=ClueKind.PLACE, text=name, span_id=span_id, confidence=confidence,
            strength=strength, regions=supports,
            detail=f"{how}: {name} → {label}" + (" (ambiguous)" if len(chosen) > 1 else ""),
            source=SOURCE))
    return clues

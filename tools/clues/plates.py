"""Licence plates (province abbreviation + letter) → city and province, from plates.csv."""

from __future__ import annotations

import re

from ..knowledge import Knowledge
from ..regions import RegionIndex
from .schema import Clue, ClueKind, RegionSupport

_LETTERS = "A-HJ-NP-Z"  # I and O are never used
_SEP = r"[\s·•.\-・]?"


def _pattern(abbreviations: str) -> re.Pattern:
    return re.compile(
        rf"([{abbreviations}]){_SEP}([{_LETTERS}]){_SEP}([{_LETTERS}0-9]{{4,5}}[{_LETTERS}0-9挂学警港澳])"
        r"(?![0-9A-Z])")


def plate_clues(text: str, knowledge: Knowledge, index: RegionIndex,
                span_id: str | None = None) -> list[Clue]:
    abbreviations = "".join(sorted({p[0] for p in knowledge.plates}))
    clues = []
    for match in _pattern(abbreviations).finditer(text.upper()):
        prefix = match.group(1) + match.group(2)
        plate = knowledge.plates.get(prefix)
        if plate is None:
            continue
        share = 1.0 / len(plate.cities)
        regions = [RegionSupport(level="city", adcode=c.adcode, name=index.label(c),
                                 weight=max(0.3, share)) for c in plate.cities]
        regions.append(RegionSupport(level="province", adcode=plate.province.adcode,
                                     name=plate.province.name, weight=0.3))
        cities = "、".join(c.name for c in plate.cities)
        clues.append(Clue(
            kind=ClueKind.PLATE, text=match.group(0), span_id=span_id,
            confidence=0.85, strength=0.7, regions=regions,
            detail=f"plate prefix {prefix} is registered in {cities} ({plate.province.name})"
                   + (f"; {plate.note}" if plate.note else ""),
            source=plate.source))
    return clues

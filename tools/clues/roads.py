"""Expressway and national-road codes and names (G6, 京藏高速, G318) → the provinces they cross."""

from __future__ import annotations

import re

from sinoloc.tools.clues.schema import Clue, ClueKind, RegionSupport
from sinoloc.tools.knowledge import Knowledge, Road

_CODE = re.compile(r"(?<![A-Z0-9])G\s?(\d{1,4})(?![0-9])")


def _clue(road: Road, text: str, span_id: str | None, confidence: float) -> Clue:
    strength = 0.75 if len(road.provinces) <= 2 else 0.6
    return Clue(
        kind=ClueKind.ROAD, text=text, span_id=span_id, confidence=confidence, strength=strength,
        regions=[RegionSupport(level="province", adcode=p.adcode, name=p.name, weight=1.0)
                 for p in road.provinces],
        detail=f"{road.code} {road.name} ({road.kind.replace('_', ' ')}) crosses "
               f" {'、'.join(p.name for p in road.provinces)}",
        source=road.source)


def road_clues(text: str, knowledge: Knowledge, span_id: str | None = None) -> list[Clue]:
    clues, seen = [], set()
    for name, road in knowledge.roads_by_name.items():
        short = name.removesuffix("高速").removesuffix("线")
        if name in text or (road.kind == "expressway" and f"{short}高速" in text):
            seen.add(road.code)
            clues.append(_clue(road, name, span_id, 0.9))
    for match in _CODE.finditer(text.upper()):
        code = f"G{match.group(1)}"
        coded = knowledge.roads_by_code.get(code)
        if coded is not None and code not in seen:
            seen.add(code)
            clues.append(_clue(coded, match.group(0), span_id, 0.75))
    return clues

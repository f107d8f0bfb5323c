"""Find administrative names in free text and resolve them into one consistent region.

``浙江省杭州市西湖区文三路138号`` → 浙江省 ⊃ 杭州市 ⊃ 西湖区, with ``文三路138号`` left over as a
street-level query. Short district names (西湖, 鼓楼) are only trusted next to their city; a name
followed by 路/街/大道 is a street (中山路 exists in every city), not a region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sinoloc.tools.regions import Level, Region, RegionIndex, get_region_index

_STREET_AFTER = re.compile(r"^(路|街|大街|大道|道|巷|胡同|弄|桥|里|东路|西路|南路|北路|中路)")
_GENERIC = {"城区", "郊区", "矿区", "新区", "市中区", "市辖区", "开发区", "高新区"}
_MAX_NAME = 24


@dataclass(frozen=True)
class Mention:
    text: str
    start: int
    end: int
    candidates: tuple[Region, ...]
    full: bool  # matched with its suffix (杭州市), not the short form (杭州)


@dataclass(frozen=True)
class Resolution:
    region: Region  # the deepest consistent region
    mentions: tuple[Mention, ...]  # the mentions that agree with it
    alternatives: tuple[Region, ...]  # other regions equally supported (ambiguity)
    leftover: str  # text after the last agreeing mention


class Gazetteer:
    def __init__(self, index: RegionIndex):
        self.index = index
        self._names: dict[str, list[tuple[Region, bool]]] = {}
        self._district_short: dict[str, list[Region]] = {}
        for full, region in index.names():
            if full in _GENERIC or len(full) < 2:
                continue
            self._names.setdefault(full, []).append((region, True))
            short = region.short
            if short != full and len(short) >= 2:
                if region.level is Level.DISTRICT:
                    self._district_short.setdefault(short, []).append(region)
                else:
                    self._names.setdefault(short, []).append((region, False))

    def mentions(self, text: str) -> list[Mention]:
        """Longest-first, non-overlapping admin names in ``text``."""
        found: list[Mention] = []
        i = 0
        while i < len(text):
            hit = None
            for length in range(min(_MAX_NAME, len(text) - i), 1, -1):
                piece = text[i:i + length]
                entries = self._names.get(piece)
                if entries and not _STREET_AFTER.match(text[i + length:]):
                    hit = Mention(piece, i, i + length, tuple(r for r, _ in entries),
                                  full=all(f for _, f in entries))
                    break
            if hit:
                found.append(hit)
                i = hit.end
            else:
                i += 1
        return self._add_district_short_forms(text, found)

    def _add_district_short_forms(self, text: str, found: list[Mention]) -> list[Mention]:
        """西湖 counts as 西湖区 only when it follows a mention of its city."""
        cities = {r.adcode for m in found for r in m.candidates if r.level is Level.CITY}
        if not cities:
            return found
        extra = []
        for short, regions in self._district_short.items():
            local = tuple(r for r in regions if r.city_adcode in cities)
            if not local:
                continue
            for match in re.finditer(re.escape(short), text):
                s, e = match.span()
                overlaps = any(m.start < e and s < m.end for m in found)
                if not overlaps and not _STREET_AFTER.match(text[e:]):
                    extra.append(Mention(short, s, e, local, full=False))
        return sorted(found + extra, key=lambda m: m.start)

    def _ranked(self, region: Region, mentions: list[Mention]) -> tuple[tuple, tuple] | None:
        """``region``'s score (mentions agreeing with it, full names among them, depth) and the
        agreeing mentions; None when no mention names the region itself."""
        agreeing = tuple(m for m in mentions
                         if any(self.index.is_within(region, c) for c in m.candidates))
        if not any(region in m.candidates for m in agreeing):
            return None
        depth = {Level.PROVINCE: 0, Level.CITY: 1, Level.DISTRICT: 2}[region.level]
        return (len(agreeing), sum(m.full for m in agreeing), depth), agreeing

    def resolve(self, text: str) -> Resolution | None:
        mentions = self.mentions(text)
        if not mentions:
            return None
        best: tuple | None = None
        candidates = {r.key: r for m in mentions for r in m.candidates}
        for region in candidates.values():
            ranked = self._ranked(region, mentions)
            if ranked is None:
                continue
            score, agreeing = ranked
            if best is None or score > best[0]:
                best = (score, region, agreeing, [region])
            elif score == best[0]:
                best[3].append(region)
        if best is None:
            return None
        _, region, agreeing, tied = best
        leftover = text[max(m.end for m in agreeing):].strip(" ，,:：")
        return Resolution(region, agreeing, tuple(r for r in tied if r != region), leftover)


@lru_cache(maxsize=1)
def get_gazetteer() -> Gazetteer:
    return Gazetteer(get_region_index())

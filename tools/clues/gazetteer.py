"""Find administrative names in free text and resolve them into one consistent region.

``浙江省杭州市西湖区文三路138号`` → 浙江省 ⊃ 杭州市 ⊃ 西湖区, with ``文三路138号`` left over as a
street-level query. A name counts only where the text segments it as that name:

- longest first, so a name inside a longer admin name is the longer name (北区 of 闸北区, an old
  Shanghai district, is not Hong Kong's 北区); a two-character district name (北区, 和县) right
  after a Han character that ends no other name is the tail of a longer name this index lacks;
- not before 路/街/大道 … (中山路 exists in every city: a road named after a place is not at that
  place), and a short name not before an institution's word (中山大学 is in 广州, 中山公园 in
  many cities: not 中山市);
- not a short name before 湾/高速/大桥/隧道 (杭州湾跨海大桥 is not in 杭州市; 京沪高速 runs far
  from both) — but 哈尔滨绕城高速 circles 哈尔滨 and 杭州机场 serves 杭州: those count;
- short district names (西湖, 鼓楼) only next to their city;
- old names from the admin-change table (:mod:`sinoloc.tools.places.admin_changes`: 白下区,
  萝岗区, 吴江市) stand for today's district(s) and carry the change; an old name that is also a
  current name elsewhere (邢台's 桥东区), and an old short name (白下), only next to its city;
- a short name shared by a province and a city (吉林, 海南) is the province unless another name
  of the line points at the city.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

from sinoloc.tools.places.admin_changes import AdminChange, get_admin_changes
from sinoloc.tools.regions import Level, Region, RegionIndex, get_region_index

_STREET_AFTER = re.compile(r"^[东西南北中]{0,2}[一二三四五六七八九十\d]{0,3}"
                           r"(路|街|大街|大道|道|巷|胡同|弄|桥|里)")
# after a full name (香格里拉市, 北京市) only a road word makes it a road's name: 里 and 桥 begin
# the next name there (香格里拉市里山乡)
_ROAD_AFTER_FULL = re.compile(r"^[东西南北中]{0,2}[一二三四五六七八九十\d]{0,3}(路|街|大街|大道|巷|胡同|弄)")
# a short name before these words names an institution, a park or a memorial, not the region (a
# hospital is not among them: 北京医院, 北京大学深圳医院 stand in the city they name)
_INSTITUTION_AFTER = re.compile(
    r"^(公园|陵|纪念堂|纪念馆|舰|号|[^\s市区县省州路街道号]{0,6}?(大学|学院))")
# a short name before these words names a bay, an expressway, a bridge or a tunnel after the place
# it reaches or the ends it joins (杭州湾跨海大桥 joins 嘉兴 and 宁波; 杭甬高速, 沪昆高速 run far
# from 杭州 and 上海): not the region. A ring expressway (哈尔滨绕城高速) runs around the city it
# names and an airport (杭州机场) serves it: those still count.
_LANDMARK_AFTER = re.compile(r"^(湾|海湾|港湾|跨海|高速|高架|大桥|隧道)")
_GENERIC = {"城区", "郊区", "矿区", "新区", "市中区", "市辖区", "开发区", "高新区"}
_HAN = re.compile(r"[\u4e00-\u9fff]")
_MAX_NAME = 24


@dataclass(frozen=True)
class Mention:
    text: str
    start: int
    end: int
    candidates: tuple[Region, ...]
    full: bool  # matched with its suffix (杭州市), not the short form (杭州)
    change: AdminChange | None = None  # an old name: what became of it (萝岗区 → 黄埔区, 2014)


@dataclass(frozen=True)
class Resolution:
    region: Region  # the deepest consistent region
    mentions: tuple[Mention, ...]  # the mentions that agree with it
    alternatives: tuple[Region, ...]  # other regions equally supported (ambiguity)
    leftover: str  # text after the last agreeing mention


# a name read only next to its city: (name, regions, full, the change of an old name)
_Local = tuple[str, tuple[Region, ...], bool, AdminChange | None]


class Gazetteer:
    def __init__(self, index: RegionIndex, changes: tuple[AdminChange, ...] = ()):
        self.index = index
        self._names: dict[str, list[tuple[Region, bool]]] = {}
        self._district_short: dict[str, list[Region]] = {}
        self._generic: dict[str, list[Region]] = defaultdict(list)
        for full, region in index.names():
            self._add_name(full, region)
        # old names: read anywhere when unmistakable, else only next to today's city; one that
        # is also a current name elsewhere (广州's 东山区, 鹤岗's 东山区) is both, weighed alike
        self._old: dict[str, AdminChange] = {}
        self._old_shared: dict[str, AdminChange] = {}
        self._old_local: dict[str, list[tuple[AdminChange, bool]]] = {}
        named = Counter(c.old_name for c in changes)
        for change in changes:
            self._add_old_name(change, unique=named[change.old_name] == 1)

    def _add_name(self, full: str, region: Region) -> None:
        """Index a region's full name and its short form (a district's only next to its city)."""
        if full in _GENERIC and region.level is Level.DISTRICT and full == region.name:
            self._generic[full].append(region)  # 城区, 市中区: only next to their city
        if full in _GENERIC or len(full) < 2:
            return
        self._names.setdefault(full, []).append((region, True))
        short = region.short
        if short == full or len(short) < 2:
            return
        if region.level is Level.DISTRICT:
            self._district_short.setdefault(short, []).append(region)
        else:
            self._names.setdefault(short, []).append((region, False))

    def _add_old_name(self, change: AdminChange, unique: bool) -> None:
        """Index an old name (``unique``: no other change has it) and its short form."""
        name = change.old_name
        if name not in self._names and name not in _GENERIC and unique:
            self._old[name] = change
        elif len(name) >= 3 and name in self._names and unique and name not in _GENERIC:
            self._old_shared[name] = change
        self._old_local.setdefault(name, []).append((change, True))
        old_short = _short_old(change, self.index)
        if old_short and old_short not in self._names:
            self._old_local.setdefault(old_short, []).append((change, False))

    def _exact(self, text: str, i: int, piece: str) -> Mention | None:
        """The mention ``piece`` makes at ``i``, if the text segments it as that name."""
        after = text[i + len(piece):]
        change = self._old.get(piece)
        entries = self._names.get(piece) or []
        if change is None and not entries:
            return None
        full = change is not None or all(f for _, f in entries)
        if self._is_road_name(after, full) or self._is_tail(text, i, piece, change, entries):
            return None
        if change is not None:
            return Mention(piece, i, i + len(piece), change.regions, full=True, change=change)
        return self._current(piece, i, after, entries, full)

    def _is_road_name(self, after: str, full: bool) -> bool:
        """Whether the text ``after`` a name makes it a street's name (中山路), not the region."""
        road = _ROAD_AFTER_FULL if full else _STREET_AFTER
        return bool(road.match(after)) and not self._starts_name(after)

    def _is_tail(self, text: str, i: int, piece: str, change: AdminChange | None,
                 entries: list[tuple[Region, bool]]) -> bool:
        """Whether a two-character district or old name at ``i`` ends a longer one (北区 of 闸北区)."""
        return len(piece) == 2 and i > 0 and bool(_HAN.match(text[i - 1])) and not self._ends_name(text, i) \
            and (change is not None or entries[0][0].level is Level.DISTRICT)

    def _current(self, piece: str, i: int, after: str, entries: list[tuple[Region, bool]],
                 full: bool) -> Mention | None:
        """The mention of a current name, unless a short one names an institution or a route."""
        if not full and _INSTITUTION_AFTER.match(after):
            return None  # 中山大学, 中山公园: an institution's name, not the city
        if not full and _LANDMARK_AFTER.match(after):
            return None  # 杭州湾跨海大桥, 杭甬高速: a bay or a route, not the city
        candidates = tuple(r for r, _ in entries)
        shared = self._old_shared.get(piece)
        if shared is not None:
            candidates += tuple(r for r in shared.regions if r not in candidates)
        return Mention(piece, i, i + len(piece), candidates, full=full, change=shared)

    def _starts_name(self, text: str) -> bool:
        """Whether ``text`` begins with a known full name (石家庄市|桥东区: not a street)."""
        return any(text[:n] in self._old or any(f for _, f in self._names.get(text[:n], ()))
                   for n in range(2, min(_MAX_NAME, len(text)) + 1))

    def _ends_name(self, text: str, i: int) -> bool:
        """Whether a known name ends at position ``i`` (香港|北区)."""
        return any(text[j:i] in self._names or text[j:i] in self._old
                   for j in range(max(0, i - _MAX_NAME), i - 1))

    def mentions(self, text: str) -> list[Mention]:
        """Longest-first, non-overlapping admin names in ``text``."""
        found: list[Mention] = []
        i = 0
        while i < len(text):
            hit = None
            for length in range(min(_MAX_NAME, len(text) - i), 1, -1):
                hit = self._exact(text, i, text[i:i + length])
                if hit:
                    break
            if hit:
                found.append(hit)
                i = hit.end
            else:
                i += 1
        return self._add_local_names(text, found)

    def _add_local_names(self, text: str, found: list[Mention]) -> list[Mention]:
        """西湖 counts as 西湖区 only when the line names its city, and so do 城区 and 市中区 (a
        city's own) and old names that are short (白下) or also a current name elsewhere
        (邢台's 桥东区), which then replace the current one."""
        cities = _line_cities(found)
        if not cities:
            return found
        extra: list[Mention] = []
        for name, regions, full, change in sorted(self._local_names(cities), key=lambda x: -len(x[0])):
            for match in re.finditer(re.escape(name), text):
                s, e = match.span()
                local = Mention(name, s, e, regions, full=full, change=change)
                found = self._place_local(text, local, found, extra)
        return sorted(found + extra, key=lambda m: m.start)

    def _local_names(self, cities: set[str]) -> list[_Local]:
        """(name, regions, full, change) of the names read only next to one of ``cities``."""
        local: list[_Local] = []
        for table, full in ((self._district_short, False), (self._generic, True)):
            for name, regions in table.items():
                near = tuple(r for r in regions if r.city_adcode in cities)
                if near:
                    local.append((name, near, full, None))
        local += [(old, past.regions, is_full, past) for old, changes in self._old_local.items()
                  for past, is_full in changes if past.scope.adcode in cities]
        return local

    def _place_local(self, text: str, local: Mention, found: list[Mention],
                     extra: list[Mention]) -> list[Mention]:
        """Add ``local`` to ``extra`` where the text segments it as that name and nothing found
        overlaps it; returns ``found`` less the current name an old one replaces."""
        s, e = local.start, local.end
        if _STREET_AFTER.match(text[e:]) and not self._starts_name(text[e:]):
            return found
        found = _replaced_by_old(local, found)
        if not any(m.start < e and s < m.end for m in found + extra):
            extra.append(local)
        return found

    def _ranked(self, region: Region, mentions: list[Mention]) -> tuple[tuple, tuple] | None:
        """``region``'s score (mentions agreeing with it, full names among them, characters they
        explain, homonyms against it, depth) and the agreeing mentions; None when no mention
        names the region itself."""
        agreeing = tuple(m for m in mentions
                         if any(self.index.is_within(region, c) for c in m.candidates))
        if not any(region in m.candidates for m in agreeing):
            return None
        depth = {Level.PROVINCE: 0, Level.CITY: 1, Level.DISTRICT: 2}[region.level]
        return (len(agreeing), sum(m.full for m in agreeing), sum(m.end - m.start for m in agreeing),
                -self._homonym(region, agreeing), depth), agreeing

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

    def _homonym(self, region: Region, agreeing: tuple[Mention, ...]) -> int:
        """1 where ``region`` is a city named only by a short name a province shares (吉林 →
        吉林省 rather than 吉林市; 海南 → 海南省, not 青海's 海南州)."""
        if region.level is not Level.CITY:
            return 0
        return int(all(not m.full and any(c.level is Level.PROVINCE for c in m.candidates) for m in agreeing))


def _line_cities(found: list[Mention]) -> set[str]:
    """The adcodes of the cities the line's mentions name or lie in."""
    cities = {r.adcode for m in found for r in m.candidates if r.level is Level.CITY}
    cities |= {r.city_adcode for m in found for r in m.candidates
               if r.level is Level.DISTRICT and r.city_adcode}
    return cities


def _replaced_by_old(local: Mention, found: list[Mention]) -> list[Mention]:
    """``found`` less a current name at ``local``'s span that an old name of another city's
    replaces (桥东区 of 邢台, not 石家庄's)."""
    change = local.change
    same = [m for m in found if (m.start, m.end) == (local.start, local.end)]
    if change is not None and same and not any(
            r.city_adcode == change.scope.adcode for m in same for r in m.candidates):
        return [m for m in found if m not in same]
    return found


def _short_old(change: AdminChange, index: RegionIndex) -> str | None:
    """白下 of 白下区, 吴江 of 吴江市: an old name's short form, two characters or more."""
    from sinoloc.tools.regions.names import short_name

    level = "city" if change.regions[0].level is Level.CITY and change.old_name.endswith("市") \
        and len(change.regions) == 1 else "district"
    short = short_name(change.old_name, level)
    return short if short != change.old_name and len(short) >= 2 else None


@lru_cache(maxsize=1)
def get_gazetteer() -> Gazetteer:
    return Gazetteer(get_region_index(), get_admin_changes())

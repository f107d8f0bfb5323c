"""Probe kinds of admin-name reading (issue 28): what a sign's names imply, not only what they say.

- ``old_name``: an address with a district or county-level city that was abolished, merged or
  renamed (drawn from the admin-change table: its rows' sources are the truth's); the truth is
  today's district (today's city where the old area was split). The address is written with its
  province and old city, with the old city only, or with the old name alone.
- ``homonym``: a decoy admin name that does not locate, drawn from one of four classes — a road
  named after a city of another province (北京路, 中山东一路), an institution named after one
  (南京大学, 廊坊职业技术学院), a short name shared by regions at different levels (吉林, 海南,
  大同, 西安 …, found over the region index) as a shop's name — beside a real clue of this
  province (an address, a landline, or a shop named after its city), which is the truth; or an
  old name of this province that holds another province's district name (闸北区 ⊃ 北区,
  江宁县 ⊃ 宁县), written after its city: the truth is today's district.
- ``address_vs_town``: a full address whose district's name is also a town or village of another
  county (鼓楼 of 鼓楼区 and many a 鼓楼街道), half of them with a town of another county of the
  province written after the district; the truth is the district.

Regions, names and area codes come from the region index, the change table, the town gazetteer
and :mod:`.probe_tables`; nothing is typed by hand.
"""

from __future__ import annotations

import random
from collections import defaultdict
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sinoloc.benchmarks.probe_data import _Ask, _Context
    from sinoloc.tools.regions import Region, RegionIndex

NAME_KINDS = ("old_name", "homonym", "address_vs_town")
ROAD_SUFFIXES = ("路", "东路", "西路", "南路", "北路", "中路", "大道", "大街", "一路", "二路", "东一路",
                 "中二路")
INSTITUTIONS = ("大学", "学院", "公园", "师范大学", "职业技术学院")
SHOP_WORDS = ("大药房", "超市", "饭店", "酒家", "宾馆", "商行")


def _old_name_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """Up to two changes of this province, each as an address a sign of the time would carry."""
    from sinoloc.tools.places.admin_changes import get_admin_changes

    rows = [c for c in get_admin_changes() if c.scope.province_adcode == ask.province.adcode]
    out: list[dict] = []
    for i, change in enumerate(rng.sample(rows, min(2, len(rows)))):
        truth = change.regions[0] if len(change.regions) == 1 else change.scope
        style = rng.choice(("province", "city", "bare"))
        city = "" if style == "bare" or change.old_city == change.old_name else change.old_city
        province = ask.province.name if style == "province" and ask.province.name != city else ""
        line = f"{province}{city}{change.old_name}{rng.choice(ctx.roads)}{rng.randint(1, 399)}号"
        out.append(dict(variant=f"{style}{i}", sign=[ask.shop, line], key=change.old_name,
                        truth=ctx.truth(truth), note=f"{change.describe()} [{change.source}]"))
    return out


@lru_cache(maxsize=1)
def _homonym_names() -> dict[str, tuple[str, ...]]:
    """Short names shared by regions of different levels or provinces (吉林: 吉林省 and 吉林市;
    海南: 海南省, 海南藏族自治州, 乌海's 海南区) → the province adcodes they name."""
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    names: dict[str, set] = defaultdict(set)
    for _, region in index.names():
        if region.level.value != "district" and len(region.short) >= 2:
            names[region.short].add(region.key)
    for region in index.districts:
        if region.short in names and region.short != region.name:
            names[region.short].add(region.key)
    out = {}
    for short, keys in names.items():
        regions = [index.get(adcode, level) for level, adcode in keys]
        levels = {r.level for r in regions if r is not None}
        if len(keys) >= 2 and len(levels) >= 2:
            out[short] = tuple(sorted({r.province_adcode for r in regions if r is not None}))
    return out


def _real_clue(ctx: _Context, ask: _Ask, rng: random.Random) -> tuple[str, str, object]:
    """(line, key, truth region) of this province: a district's address, a city's landline, or
    a shop named after its city (杭州大药房: the city's short name, as weak as a decoy's)."""
    how = rng.choice(("address", "landline", "city_shop"))
    city = rng.choice([c for c in ctx.cities(ask.province) if ctx.districts(c)])
    if how == "address":
        district = rng.choice(ctx.districts(city))
        return ctx.address(district, rng, with_province=False), district.name, district
    if how == "city_shop" and len(city.short) >= 2 and city.short != city.name:
        return f"{city.short}{rng.choice(SHOP_WORDS)}", city.short, city
    return ctx.local_landline(ask, rng)


@lru_cache(maxsize=1)
def _longer_names() -> tuple[tuple[str, str, str], ...]:
    """(old name, the shorter current name inside it, that name's province): old names of the
    change table that hold another province's district name (闸北区 ⊃ 香港's 北区, 江宁县 ⊃ 宁县)."""
    from sinoloc.tools.places.admin_changes import get_admin_changes
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    out = []
    for change in get_admin_changes():
        for k in range(1, len(change.old_name) - 1):
            inner = [r for r in index.lookup(change.old_name[k:], level="district")
                     if r.name == change.old_name[k:] and r.province_adcode != change.scope.province_adcode]
            if inner:
                out.append((change.old_name, inner[0].name, inner[0].province_adcode))
                break
    return tuple(out)


def _longer_changes(ask: _Ask) -> tuple[dict, list[str]]:
    """This province's changes by old name, and the old names that hold another province's
    district name and became one region (the ``longer`` class's candidates)."""
    from sinoloc.tools.places.admin_changes import get_admin_changes

    changes = {c.old_name: c for c in get_admin_changes() if c.scope.province_adcode == ask.province.adcode}
    longer = [name for name, _, _ in _longer_names() if name in changes and len(changes[name].regions) == 1]
    return changes, longer


def _elsewhere_shorts(ctx: _Context, ask: _Ask) -> list[str]:
    """Short names (two characters or more) of the cities of other provinces."""
    return sorted({c.short for c in ctx.index.cities() if c.province_adcode != ask.province.adcode
                   and len(c.short) >= 2 and c.short != c.name})


def _decoy(variant: str, elsewhere: list[str], ask: _Ask, rng: random.Random) -> str:
    """A decoy of the ``road``, ``institution`` or ``shared`` class that names no place here."""
    if variant == "road":
        return f"{rng.choice(elsewhere)}{rng.choice(ROAD_SUFFIXES)}{rng.randint(1, 299)}号"
    if variant == "institution":
        return f"{rng.choice(elsewhere)}{rng.choice(INSTITUTIONS)}"
    pool = sorted(n for n, provinces in _homonym_names().items() if ask.province.adcode not in provinces)
    return f"{rng.choice(pool)}{rng.choice(SHOP_WORDS)}"


def _homonym_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """A decoy name of one of four classes beside (or in) a real clue of this province."""
    variant = rng.choice(("road", "institution", "shared", "longer"))
    changes, longer = _longer_changes(ask)
    if variant == "longer" and not longer:
        variant = "road"
    elsewhere = _elsewhere_shorts(ctx, ask)
    if variant == "longer":
        change = changes[rng.choice(sorted(longer))]
        line = f"{change.old_city}{change.old_name}{rng.choice(ctx.roads)}{rng.randint(1, 399)}号"
        return [dict(variant=variant, sign=[ask.shop, line], key=change.old_name,
                     truth=ctx.truth(change.regions[0]), note=change.describe())]
    line, key, truth = _real_clue(ctx, ask, rng)
    decoy = _decoy(variant, elsewhere, ask, rng)
    sign = [decoy, line] if rng.random() < 0.5 else [line, decoy]
    return [dict(variant=variant, sign=sign, key=key, truth=ctx.truth(truth),
                 note=f"decoy {decoy!r} ({variant}) names no place here")]


def _address_vs_town_probes(ctx: _Context, ask: _Ask, rng: random.Random) -> list[dict]:
    """An address whose district's name (or its short form) is also a town or village of another
    county, or an address naming a district and, after it, a town of another county of the
    province (the explicit district is the truth)."""
    from sinoloc.tools.places.towns import get_towns

    towns = get_towns()
    fits = []
    for city in ctx.cities(ask.province):
        for district in ctx.districts(city):
            elsewhere = {adcode for name in (district.name, district.short)
                         for _, regions in towns.lookup(name) for _, adcode in regions
                         if adcode != district.adcode}
            if elsewhere:
                fits.append((district, len(elsewhere)))
    if not fits:
        return []
    district, count = rng.choice(fits)
    address = ctx.address(district, rng, rng.random() < 0.5)
    note = f"{district.name}/{district.short} also names a town or village in {count} other county(ies)"
    variant = "district"
    foreign = [p for p in ctx.places[(ask.province.adcode, "town")] if p.county_adcode != district.adcode]
    if foreign and rng.random() < 0.5:
        town = rng.choice(foreign)
        head = address[:address.index(district.name) + len(district.name)]
        address = f"{head}{town.name}{address[len(head):]}"
        variant, note = "foreign_town", f"{town.name} is a town of {town.county}, not of {district.name}"
    return [dict(variant=variant, sign=[ask.shop, address], key=district.name, truth=ctx.truth(district),
                 note=note)]


def _name_forms(regions: dict[tuple[str, str], Region]) -> dict[str, set[tuple[str, str]]]:
    """Every name a region answers to (its full name, and its short name of two characters or
    more) → the keys of the regions that answer to it."""
    forms: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for region in regions.values():
        forms[region.name].add(region.key)
        if region.short != region.name and len(region.short) >= 2:
            forms[region.short].add(region.key)
    return forms


def _class_label(index: RegionIndex, named: list[Region]) -> str:
    """How the regions sharing a name relate: their levels, ``nested`` where one lies within
    another, ``cross-province`` where they span provinces."""
    nested = any(index.is_within(a, b) for a in named for b in named if a.key != b.key)
    return "+".join(sorted({r.level.value for r in named})) + (" nested" if nested else "") \
        + (" cross-province" if len({r.province_adcode for r in named}) > 1 else "")


def homonym_classes() -> dict[str, list[tuple[str, list[str]]]]:
    """Every name (full or short) that more than one region answers to, grouped by how the
    regions relate: ``city+district nested`` (承德: the city and its 承德县), ``district
    cross-province`` (朝阳区), ``city+province nested`` (吉林), ``city+district+province
    cross-province`` (海南) …; and ``inside an old name`` (北区 in 闸北区)."""
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    regions = {r.key: r for _, r in index.names()}
    classes: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for form, keys in sorted(_name_forms(regions).items()):
        if len(keys) < 2:
            continue
        named = [regions[k] for k in sorted(keys)]
        classes[_class_label(index, named)].append((form, [index.label(r) for r in named]))
    for old, inner, _ in _longer_names():
        classes["inside an old name"].append((inner, [old]))
    return dict(classes)


def main() -> int:
    """Print the homonym classes: ``python -m sinoloc.benchmarks.probe_names``."""
    for label, rows in sorted(homonym_classes().items(), key=lambda kv: -len(kv[1])):
        print(f"{label}: {len(rows)}")
        for form, labels in rows:
            print(f"  {form}: {' / '.join(labels)}")
    return 0


NAME_MAKERS = {"old_name": _old_name_probes, "homonym": _homonym_probes,
               "address_vs_town": _address_vs_town_probes}


if __name__ == "__main__":
    raise SystemExit(main())

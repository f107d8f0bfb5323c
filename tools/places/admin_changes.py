"""Admin changes since 1990: an old district or city name on a sign → today's region(s).

Signs outlive the map. ``南京市白下区`` was merged into 秦淮区 in 2013, ``广州市萝岗区`` into
黄埔区 in 2014, and every county-level city that became a district (``吴江市`` → 吴江区, 2012)
left signs behind that today's boundaries cannot read. ``data/admin_changes.csv`` lists such
changes, one old name a row, each with its year and the ministry's list it appears in. Every row
is checked against the ministry's county-level code history as republished by
``yescallop/areacodes`` (CC0) and cites it by commit and line (:mod:`.build_areacodes`, which also
added the clean changes of 1990–1999; a row's year is the first yearly list without the old
name). Columns:

- ``year``, ``change`` (one of :data:`CHANGE_KINDS`), ``province``, ``city`` (the old name's city
  when it changed), ``old_name`` (the full name as signs wrote it);
- ``new_city`` and ``new_names`` (``;``-separated districts of ``new_city`` that hold the old
  area today; empty when the old name is the city itself: 襄樊市 → 襄阳市);
- ``announcement`` and ``source``: where the change is published.

Every row is validated against the region index when the table loads: today's regions must
exist where the row says, the old name must no longer name a region of its city, and each
provenance column must be filled; a bad row is an :class:`AdminChangeError` naming its line.
"""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sinoloc.tools.regions import Level, Region, RegionIndex, get_region_index

DATA_FILE = Path(__file__).parent / "data" / "admin_changes.csv"
COLUMNS = ["year", "change", "province", "city", "old_name", "new_city", "new_names", "announcement",
           "source"]
FIRST_YEAR = 1990
# how each kind reads in evidence: "萝岗区 (merged into 黄埔区, 2014)"
CHANGE_KINDS = {
    "merged": "merged into {new}",
    "split": "split into {new}",
    "renamed": "renamed {new}",
    "county_to_district": "county became {new}",
    "city_to_district": "county-level city became {new}",
    "county_to_city": "county became {new}",
    "district_to_county": "district became {new}",
    "reparented": "moved to {new}",
}


class AdminChangeError(ValueError):
    """A row of the admin-change table is malformed or names a region that does not exist."""


@dataclass(frozen=True)
class AdminChange:
    old_name: str  # 萝岗区
    year: int
    change: str  # a key of CHANGE_KINDS
    old_city: str  # 广州市, as it was called then
    regions: tuple[Region, ...]  # today's region(s) holding the old area
    scope: Region  # today's city: where a short old name (萝岗) may be read
    announcement: str
    source: str

    def describe(self) -> str:
        """``萝岗区 (merged into 黄埔区, 2014)``: the old name, what became of it, and when."""
        new = "、".join(r.name for r in self.regions)
        return f"{self.old_name} ({CHANGE_KINDS[self.change].format(new=new)}, {self.year})"


def _region(index: RegionIndex, name: str, level: Level, within: Region | None, where: str) -> Region:
    found = [r for r in index.lookup(name, level=level, within=within) if r.name == name]
    if len(found) != 1:
        raise AdminChangeError(f"{where}: {'no' if not found else 'more than one'} {level.value} called "
                               f"{name!r}" + (f" in {within.name}" if within else "") + " today")
    return found[0]


def _checked_year(raw: dict[str, str], where: str) -> int:
    """The row's year, which must lie from :data:`FIRST_YEAR` to today."""
    try:
        year = int(raw["year"])
    except ValueError:
        raise AdminChangeError(f"{where}: year {raw['year']!r} is not a year") from None
    if not FIRST_YEAR <= year <= datetime.date.today().year:
        raise AdminChangeError(f"{where}: year {year} outside {FIRST_YEAR}–today")
    return year


def _check_filled(raw: dict[str, str], where: str) -> None:
    """Every column but ``new_names`` must be filled, and ``change`` a known kind."""
    missing = [c for c in COLUMNS if c != "new_names" and not (raw.get(c) or "").strip()]
    if missing:
        raise AdminChangeError(f"{where}: empty {', '.join(missing)} (every row needs its year, "
                               "names and both provenance columns)")


def _row(raw: dict[str, str], index: RegionIndex, where: str) -> AdminChange:
    _check_filled(raw, where)
    year = _checked_year(raw, where)
    if raw["change"] not in CHANGE_KINDS:
        raise AdminChangeError(f"{where}: change {raw['change']!r} is not one of {sorted(CHANGE_KINDS)}")
    province = _region(index, raw["province"], Level.PROVINCE, None, where)
    city = _region(index, raw["new_city"], Level.CITY, province, where)
    names = [n for n in (raw["new_names"] or "").split(";") if n.strip()]
    regions = tuple(_region(index, n.strip(), Level.DISTRICT, city, where) for n in names) or (city,)
    old = raw["old_name"].strip()
    if any(r.name == old for r in index.lookup(old, within=city)):
        raise AdminChangeError(f"{where}: {old!r} still names a region of {city.name}: not an old name")
    return AdminChange(old_name=old, year=year, change=raw["change"], old_city=raw["city"].strip(),
                       regions=regions, scope=city, announcement=raw["announcement"].strip(),
                       source=raw["source"].strip())


def read_changes(index: RegionIndex, path: Path = DATA_FILE) -> tuple[AdminChange, ...]:
    """Every row of the table, validated against ``index`` (pure but for reading ``path``)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            raise AdminChangeError(f"{path.name}: columns {reader.fieldnames}, expected {COLUMNS}")
        changes = [_row(raw, index, f"{path.name}:{line}") for line, raw in enumerate(reader, start=2)]
    seen: dict[tuple[str, str], int] = {}
    for change in changes:
        key = (change.old_name, change.scope.adcode)
        if key in seen:
            raise AdminChangeError(f"{path.name}: {change.old_name} in {change.scope.name} listed twice")
        seen[key] = change.year
    return tuple(changes)


@lru_cache(maxsize=1)
def get_admin_changes() -> tuple[AdminChange, ...]:
    return read_changes(get_region_index())

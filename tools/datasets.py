"""TuXun-style labelled sets: CSV or JSONL rows of an image path, lat, lon and optional labels.

Column names (case-insensitive): the image as ``image`` / ``file`` / ``path`` (a local path,
relative to the dataset file); ``lat`` / ``latitude``; ``lon`` / ``lng`` / ``longitude``; an
optional coordinate system as ``crs`` / ``coord_system`` / ``coordinate_system`` (WGS-84 by
default; GCJ-02, BD-09 and BD-09 Mercator are converted); optional ``province`` / ``city`` /
``district`` labels (names or adcodes) and an optional ``id``. Levels without a label are derived
by reverse geocoding the true point with the offline region index. Every other column, and every
``key=value`` pair in a ``notes`` column, is kept as an attribute for slicing results.

The prior trainer and eval both read these files, so the reader lives here, below both; eval's
checks of a whole set (:func:`sinoloc.eval.datasets.validate`) stay in eval.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from sinoloc.tools import crs
from sinoloc.tools.regions import AdminPath, Level, Region, RegionIndex

IMAGE_KEYS = ("image", "file", "path", "image_path")
LAT_KEYS = ("lat", "latitude")
LON_KEYS = ("lon", "lng", "longitude")
CRS_KEYS = ("crs", "coord_system", "coordinate_system")
OFFSHORE_KM = 25.0  # a true point this close to land is labelled with the nearest district
_NOTE_PAIR = re.compile(r"([A-Za-z_][\w.-]*)=([^;,]+)")


class DatasetError(ValueError):
    """The dataset file cannot be read at all (missing, wrong format, required columns absent)."""


class Truth(AdminPath):
    """Where an image really is: WGS-84 point and its province / city / district."""

    lat: float
    lon: float
    offshore_km: float = 0.0  # distance to the nearest district when the point is off land


class Problem(BaseModel):
    severity: Literal["error", "warning"]  # an error means the row cannot be evaluated
    message: str


def _error(message: str) -> Problem:
    return Problem(severity="error", message=message)


def _warning(message: str) -> Problem:
    return Problem(severity="warning", message=message)


class LabelledImage(BaseModel):
    id: str
    image: str = Field(description="absolute path of the image file")
    truth: Truth
    attributes: dict[str, str] = Field(default_factory=dict, description="slice columns")
    problems: list[Problem] = Field(default_factory=list, description="what validation reports")

    @property
    def usable(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def _pick(row: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = row.get(key)
        if value not in (None, ""):
            return str(value).strip()
    return None


def read_rows(path: Path) -> list[dict[str, str]]:
    """The raw rows of a CSV or JSONL dataset, keys lower-cased."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such dataset file")
    text = path.read_text(encoding="utf-8-sig")
    rows: list[dict] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not a JSON object per line ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise DatasetError(f"{path}:{number}: each line must be a JSON object")
            rows.append(record)
    else:
        rows = list(csv.DictReader(text.splitlines()))
    rows = [{str(k).strip().lower(): ("" if v is None else str(v)) for k, v in r.items() if k}
            for r in rows]
    if not rows:
        raise DatasetError(f"{path}: the dataset has no rows")
    for need, keys in (("an image column", IMAGE_KEYS), ("a latitude column", LAT_KEYS),
                       ("a longitude column", LON_KEYS)):
        if not any(k in rows[0] for k in keys):
            raise DatasetError(f"{path}: needs {need} ({' / '.join(keys)}); "
                               f"found {', '.join(rows[0])}")
    return rows


def _attributes(row: dict[str, str]) -> dict[str, str]:
    skip = {*IMAGE_KEYS, *LAT_KEYS, *LON_KEYS, *CRS_KEYS, "id", "province", "city", "district",
            "notes"}
    attrs = {k: v for k, v in row.items() if k not in skip and v != "" and len(v) <= 80}
    for key, value in _NOTE_PAIR.findall(row.get("notes", "")):
        attrs.setdefault(key.lower(), value.strip())
    return attrs


def _resolve_label(value: str, level: Level, index: RegionIndex,
                   derived: Region | None) -> Region | None:
    """A given label (name or adcode) as a region; ambiguous names prefer the derived one."""
    region = index.get(value, level) if value.isdigit() else None
    if region is None:
        matches = index.lookup(value, level)
        if derived is not None and derived in matches:
            region = derived
        elif matches:
            region = matches[0]
    return region


def derive_truth(lat: float, lon: float, labels: dict[str, str], index: RegionIndex
                 ) -> tuple[Truth, list[Problem]]:
    """The true admin path: given labels where they resolve, reverse geocoding otherwise."""
    problems: list[Problem] = []
    district: Region | None = index.reverse(lon, lat)
    offshore = 0.0
    if district is None:
        district, offshore = index.nearest_district(lon, lat)
        if offshore > OFFSHORE_KM:
            problems.append(_error(f"outside China: {offshore:.0f} km from the nearest district"))
            district = None
    derived: dict[Level, Region | None] = {
        Level.DISTRICT: district,
        Level.CITY: index.city_of(district) if district else None,
        Level.PROVINCE: index.province_of(district) if district else None}
    chosen = dict(derived)
    for level in (Level.PROVINCE, Level.CITY, Level.DISTRICT):
        given = labels.get(level.value, "").strip()
        if not given:
            continue
        region = _resolve_label(given, level, index, derived[level])
        if region is None:
            problems.append(_warning(f"{level.value} label {given!r} is not a known {level.value}; "
                                     "derived from the coordinates instead"))
            continue
        known = derived[level]
        if known is not None and region.adcode != known.adcode:
            problems.append(_warning(f"{level.value} label {given} disagrees with the "
                                     f"coordinates ({known.name}); the label is used"))
        chosen[level] = region
    truth = Truth(lat=lat, lon=lon, offshore_km=round(offshore, 2))
    for level in Level:
        region = chosen[level]
        if region is not None:
            setattr(truth, level.value, region.name)
            setattr(truth, f"{level.value}_adcode", region.adcode)
    return truth, problems


def load_dataset(path: str | Path, index: RegionIndex) -> list[LabelledImage]:
    """Every row as a :class:`LabelledImage`; row-level problems are recorded, not raised."""
    path = Path(path)
    items: list[LabelledImage] = []
    for number, row in enumerate(read_rows(path), start=1):
        problems: list[Problem] = []
        image_ref = _pick(row, IMAGE_KEYS) or ""
        if re.match(r"^[a-z][a-z0-9+.-]*://", image_ref, re.I):
            problems.append(_error(f"image {image_ref!r} is a URL; give a local path"))
        if not image_ref:
            problems.append(_error(f"row {number}: no image path"))
        image = (path.parent / image_ref).resolve()
        item_id = _pick(row, ("id",)) or (Path(image_ref).stem if image_ref else f"row{number}")
        try:
            lat, lon = float(_pick(row, LAT_KEYS) or "nan"), float(_pick(row, LON_KEYS) or "nan")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError
            system = crs.CRS.parse(_pick(row, CRS_KEYS))
        except ValueError as exc:
            detail = str(exc) or "latitude / longitude missing or out of range"
            items.append(LabelledImage(id=item_id, image=str(image), truth=Truth(lat=0, lon=0),
                                       problems=[*problems, _error(f"row {number}: {detail}")]))
            continue
        if system is not crs.CRS.WGS84:
            lon, lat = (float(v) for v in crs.to_wgs84(lon, lat, system))
        truth, label_problems = derive_truth(lat, lon, row, index)
        items.append(LabelledImage(id=item_id, image=str(image), truth=truth,
                                   attributes=_attributes(row),
                                   problems=[*problems, *label_problems]))
    return items


def dataset_fingerprint(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

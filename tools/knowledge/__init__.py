"""Versioned knowledge files (``data/*.csv``), loaded and validated once at start.

Every row carries a ``source`` column naming where the fact comes from. Region names in the
files are resolved against the shipped boundary data; a name that does not resolve is an error
at load time, not a silent miss at run time.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, field_validator

from sinoloc.tools.regions import Level, Region, RegionIndex, get_region_index


class KnowledgeError(ValueError):
    """A knowledge file is malformed or names a region that does not exist."""


class _Row(BaseModel):
    source: str

    @field_validator("source")
    @classmethod
    def _has_source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("every knowledge row needs a source")
        return value


class PlateRow(_Row):
    prefix: str
    province: str
    cities: str
    note: str = ""


class RoadRow(_Row):
    code: str
    name: str
    kind: str
    provinces: str


class WatermarkRow(_Row):
    pattern: str
    provider: str
    note: str = ""


class MisleadingRow(_Row):
    phrase: str
    names_place: str
    reason: str


class PlateConfusionRow(_Row):
    """An OCR reading of a plate character that the plate standard rules out, and the character
    meant (plate_ocr_confusions.csv)."""

    read: str
    meant: str
    position: str  # province | letter | serial
    note: str = ""


# GA 36-2018: plate letters (issuing-authority code and serial) never use I or O
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_SERIAL_CHARS = PLATE_LETTERS + "0123456789"


class ProvinceNameRow(_Row):
    adcode: str
    abbreviation: str
    english: str
    alt_english: str = ""


@dataclass(frozen=True)
class Plate:
    prefix: str
    province: Region
    cities: tuple[Region, ...]
    note: str
    source: str


@dataclass(frozen=True)
class Road:
    code: str
    name: str
    kind: str
    provinces: tuple[Region, ...]
    source: str


@dataclass(frozen=True)
class Knowledge:
    plates: dict[str, Plate]
    roads_by_code: dict[str, Road]
    roads_by_name: dict[str, Road]
    watermarks: tuple[WatermarkRow, ...]
    misleading: tuple[MisleadingRow, ...]
    province_abbreviations: dict[str, Region]
    province_english: dict[str, Region]  # normalised English name → province
    province_english_names: dict[str, str]  # adcode → "Inner Mongolia", as written
    # (position, read) → the confusion rows for that reading, in file order
    plate_confusions: dict[tuple[str, str], tuple[PlateConfusionRow, ...]] = field(default_factory=dict)


def read_rows(name: str, model: type[BaseModel], text: str | None = None) -> list:
    """The rows of ``data/<name>`` (or of ``text``, read as that file), validated."""
    if text is None:
        text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    rows = []
    for line_no, raw in enumerate(csv.DictReader(text.splitlines()), start=2):
        try:
            rows.append(model.model_validate({k: (v or "") for k, v in raw.items()}))
        except ValueError as exc:
            raise KnowledgeError(f"{name}:{line_no}: {exc}") from exc
    return rows


def _one(index: RegionIndex, name: str, level: Level, within: Region | None, where: str) -> Region:
    found = index.lookup(name, level=level, within=within)
    if not found:
        raise KnowledgeError(f"{where}: no {level.value} called {name!r}"
                             + (f" in {within.name}" if within else ""))
    return found[0]


def _plate_confusions(plates: dict[str, Plate]) -> dict[tuple[str, str], tuple[PlateConfusionRow, ...]]:
    """Each row must map a character the standard rules out at its position to one it allows;
    a province character must map to an abbreviation of the plate table."""
    valid = {"province": {p[0] for p in plates}, "letter": set(PLATE_LETTERS),
             "serial": set(PLATE_SERIAL_CHARS)}
    table: dict[tuple[str, str], list[PlateConfusionRow]] = {}
    for row in read_rows("plate_ocr_confusions.csv", PlateConfusionRow):
        where = f"plate_ocr_confusions.csv {row.read}→{row.meant} ({row.position})"
        allowed = valid.get(row.position)
        if allowed is None:
            raise KnowledgeError(f"{where}: position must be one of {sorted(valid)}")
        if len(row.read) != 1 or len(row.meant) != 1:
            raise KnowledgeError(f"{where}: read and meant are single characters")
        if row.read in allowed or row.meant not in allowed:
            raise KnowledgeError(f"{where}: must map a character invalid at the position to a valid one")
        if any(r.meant == row.meant for r in table.get((row.position, row.read), [])):
            raise KnowledgeError(f"{where}: duplicate row")
        table.setdefault((row.position, row.read), []).append(row)
    return {key: tuple(rows) for key, rows in table.items()}


def build_knowledge(index: RegionIndex) -> Knowledge:
    plates: dict[str, Plate] = {}
    for row in read_rows("plates.csv", PlateRow):
        where = f"plates.csv {row.prefix}"
        if row.prefix in plates:
            raise KnowledgeError(f"{where}: duplicate prefix")
        province = _one(index, row.province, Level.PROVINCE, None, where)
        cities = tuple(_one(index, c, Level.CITY, province, where) for c in row.cities.split(";"))
        plates[row.prefix] = Plate(row.prefix, province, cities, row.note, row.source)

    by_code: dict[str, Road] = {}
    by_name: dict[str, Road] = {}
    for row in read_rows("roads.csv", RoadRow):
        where = f"roads.csv {row.code}"
        if row.code in by_code:
            raise KnowledgeError(f"{where}: duplicate code")
        provinces = tuple(_one(index, p, Level.PROVINCE, None, where)
                          for p in row.provinces.split(";"))
        road = Road(row.code, row.name, row.kind, provinces, row.source)
        by_code[row.code] = road
        by_name.setdefault(row.name, road)

    abbreviations: dict[str, Region] = {}
    english: dict[str, Region] = {}
    english_names: dict[str, str] = {}
    for row in read_rows("province_names.csv", ProvinceNameRow):
        named = index.get(row.adcode, Level.PROVINCE)
        if named is None:
            raise KnowledgeError(f"province_names.csv: unknown adcode {row.adcode}")
        abbreviations[row.abbreviation] = named
        english_names[named.adcode] = f"{row.english} {row.alt_english}".strip()
        for name in (row.english, row.alt_english):
            if name:
                english[name.lower().replace(" ", "")] = named

    return Knowledge(
        plates=plates, roads_by_code=by_code, roads_by_name=by_name,
        watermarks=tuple(read_rows("watermarks.csv", WatermarkRow)),
        misleading=tuple(read_rows("misleading_place_words.csv", MisleadingRow)),
        province_abbreviations=abbreviations, province_english=english,
        province_english_names=english_names, plate_confusions=_plate_confusions(plates),
    )


@lru_cache(maxsize=1)
def get_knowledge() -> Knowledge:
    return build_knowledge(get_region_index())

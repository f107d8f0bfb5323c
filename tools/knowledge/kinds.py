"""Cited tables of the clue kinds an expert reads from a sign: universities and colleges (the
MoE list, and the campuses and short names a name alone does not settle) and postcode prefixes.

Each file is validated against the boundary data when it is loaded: a row whose province, city
or district does not resolve, a duplicate, or a row without a source stops the load with the
file and line (``universities.csv:17: …``). How the derived files were made: ``derive.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

from pydantic import Field, field_validator

from sinoloc.tools.knowledge import KnowledgeError, _Row, read_rows
from sinoloc.tools.regions import Level, Region, RegionIndex, get_region_index

UNIVERSITIES, UNIVERSITY_NAMES, POSTCODES = ("universities.csv", "university_names.csv",
                                             "postcodes.csv")


class UniversityRow(_Row):
    code: str = Field(pattern=r"^\d{10}$")  # 学校标识码
    name: str
    province: str
    city: str
    district: str = ""  # a county-level city as 所在地 (昆山杜克大学: 昆山市)
    level: str  # 本科 | 专科
    note: str = ""

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value not in ("本科", "专科"):
            raise ValueError(f"level must be 本科 or 专科, not {value!r}")
        return value


class UniversityNameRow(_Row):
    pattern: str  # the sign text: a campus's name or a short name
    university: str  # the MoE name it refers to
    kind: str  # campuses (every campus of a name) | campus (one campus's name) | short (浙大)
    cities: str = ""  # 城市:weight;… (empty: the university's own city)
    note: str = ""


    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in ("campuses", "campus", "short"):
            raise ValueError(f"kind must be campuses, campus or short, not {value!r}")
        return value


class PostcodeRow(_Row):
    prefix: str = Field(pattern=r"^(\d{2}|\d{4})$")  # a province's two digits, a city's four
    province: str
    city: str = ""
    share: float
    counties: str = ""


@dataclass(frozen=True)
class Institution:
    """A sign text naming a university or college and the regions it points to, main campus
    first at weight 1."""

    pattern: str
    name: str  # the MoE name
    regions: tuple[tuple[Region, float], ...]
    short: bool  # a short name (浙大), weaker than the full name
    source: str


@dataclass
class Kinds:
    institutions: dict[str, Institution]  # sign text → institution
    postcodes: dict[str, tuple[tuple[Region, float], ...]]  # 2- or 4-digit prefix → regions

    @cached_property
    def by_length(self) -> list[Institution]:
        """Institutions longest sign text first (山东大学（威海） before 山东大学)."""
        return sorted(self.institutions.values(), key=lambda i: -len(i.pattern))


def _resolve(index: RegionIndex, name: str, level: Level, within: Region | None,
             where: str) -> Region:
    found = index.lookup(name, level=level, within=within)
    if len(found) != 1:
        raise KnowledgeError(f"{where}: {'no' if not found else 'more than one'} {level.value} "
                             f"called {name!r}" + (f" in {within.name}" if within else ""))
    return found[0]


Texts = dict[str, str]  # file name → text that replaces the shipped file (tests break a row)


def _universities(index: RegionIndex, texts: Texts) -> dict[str, Institution]:
    out: dict[str, Institution] = {}
    codes: set[str] = set()
    for line, row in enumerate(read_rows(UNIVERSITIES, UniversityRow, texts.get(UNIVERSITIES)), start=2):
        where = f"{UNIVERSITIES}:{line}"
        if row.name in out or row.code in codes:
            raise KnowledgeError(f"{where}: duplicate university {row.name} ({row.code})")
        province = _resolve(index, row.province, Level.PROVINCE, None, where)
        region = _resolve(index, row.city, Level.CITY, province, where)
        if row.district:
            region = _resolve(index, row.district, Level.DISTRICT, region, where)
        codes.add(row.code)
        out[row.name] = Institution(row.name, row.name, ((region, 1.0),), False, row.source)
    return out


def _weighted_cities(index: RegionIndex, text: str, where: str) -> tuple[tuple[Region, float], ...]:
    regions = []
    for part in text.split(";"):
        name, _, weight = part.partition(":")
        try:
            value = float(weight) if weight else 1.0
        except ValueError as exc:
            raise KnowledgeError(f"{where}: weight {weight!r} is not a number") from exc
        if not 0 < value <= 1:
            raise KnowledgeError(f"{where}: weight {value} must be in (0, 1]")
        regions.append((_resolve(index, name.strip(), Level.CITY, None, where), value))
    if max(w for _, w in regions) != 1.0:
        raise KnowledgeError(f"{where}: the main campus has weight 1")
    return tuple(regions)


def _half_width(name: str) -> str:
    """山东大学(威海) as signs and OCR also write 山东大学（威海）."""
    return name.replace("（", "(").replace("）", ")")


def _named(index: RegionIndex, universities: dict[str, Institution],
           texts: Texts) -> dict[str, Institution]:
    """The shared base of bracketed names (中国石油大学 of （北京） and （华东）) where it names no
    institution of its own, then the campus and short-name rows of university_names.csv."""
    out = dict(universities)
    bases: dict[str, list[Institution]] = {}
    for name, institution in universities.items():
        if "（" in name:
            out[_half_width(name)] = replace(institution, pattern=_half_width(name))
            bases.setdefault(name.split("（")[0], []).append(institution)
    for base, shared in bases.items():
        if base not in universities and len(shared) > 1:
            out[base] = Institution(base, base, tuple(r for i in shared for r in i.regions),
                                    False, "; ".join(dict.fromkeys(i.source for i in shared)))
    seen: set[str] = set()
    for line, row in enumerate(read_rows(UNIVERSITY_NAMES, UniversityNameRow,
                                                  texts.get(UNIVERSITY_NAMES)), start=2):
        where = f"{UNIVERSITY_NAMES}:{line}"
        if row.pattern in seen:
            raise KnowledgeError(f"{where}: duplicate pattern {row.pattern}")
        seen.add(row.pattern)
        university = universities.get(row.university)
        if university is None:
            raise KnowledgeError(f"{where}: {row.university!r} is not in {UNIVERSITIES}")
        regions = (_weighted_cities(index, row.cities, where) if row.cities
                   else university.regions)
        named = Institution(row.pattern, row.university, regions, row.kind == "short", row.source)
        out[row.pattern] = named
        out[_half_width(row.pattern)] = replace(named, pattern=_half_width(row.pattern))
    return out


def _postcodes(index: RegionIndex, texts: Texts) -> dict[str, tuple[tuple[Region, float], ...]]:
    table: dict[str, list[tuple[Region, float]]] = {}
    for line, row in enumerate(read_rows(POSTCODES, PostcodeRow, texts.get(POSTCODES)), start=2):
        where = f"{POSTCODES}:{line}"
        if not 0 < row.share <= 1:
            raise KnowledgeError(f"{where}: share {row.share} must be in (0, 1]")
        province = _resolve(index, row.province, Level.PROVINCE, None, where)
        if len(row.prefix) == 2:
            if row.city:
                raise KnowledgeError(f"{where}: a two-digit prefix names a province only")
            region = province
        else:
            if not row.city:
                raise KnowledgeError(f"{where}: a four-digit prefix names a city")
            if not any(r.name == row.province for r, _ in table.get(row.prefix[:2], [])):
                raise KnowledgeError(f"{where}: prefix {row.prefix[:2]} is not {row.province}'s")
            region = _resolve(index, row.city, Level.CITY, province, where)
        entries = table.setdefault(row.prefix, [])
        if any(r.key == region.key for r, _ in entries):
            raise KnowledgeError(f"{where}: duplicate {row.prefix} → {region.name}")
        entries.append((region, row.share))
    return {prefix: tuple(entries) for prefix, entries in table.items()}


def build_kinds(index: RegionIndex, texts: Texts | None = None) -> Kinds:
    texts = texts or {}
    return Kinds(institutions=_named(index, _universities(index, texts), texts),
                 postcodes=_postcodes(index, texts))


@lru_cache(maxsize=1)
def get_kinds() -> Kinds:
    return build_kinds(get_region_index())

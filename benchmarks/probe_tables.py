"""The tables a probe's clue is drawn from, and numbers and plates valid under them.

Nothing here is typed by hand that a shipped table already knows: area codes come from
phonenumbers' geocoding data (the same library the pipeline reads, so a probe's truth is what
the number means, not what we remember), plate prefixes from ``tools/knowledge/data/plates.csv``
(resolved to cities by the RegionIndex), towns and villages from ``data/probe_places.csv`` (built
from jionlp's division table by ``probe_places``). :mod:`.probe_data` generates probes from them.
"""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import phonenumbers
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from sinoloc.tools.regions import Region, RegionIndex

PLACES_CSV = Path(__file__).with_name("data") / "probe_places.csv"
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are never issued
_LANDLINE = re.compile(r"^86(10|2\d|[3-9]\d\d)$")
_LANDLINE_TYPES = {phonenumbers.PhoneNumberType.FIXED_LINE,
                   phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


class Place(BaseModel):
    """A row of probe_places.csv (validated at load: a row without a source is an error)."""

    kind: str
    name: str
    town: str
    county: str
    county_adcode: str = Field(pattern=r"^\d{6}$")
    city_adcode: str = Field(pattern=r"^\d{6}$")
    province_adcode: str = Field(pattern=r"^\d{6}$")
    source: str = Field(min_length=10)


def load_places(path: Path = PLACES_CSV) -> list[Place]:
    with path.open(encoding="utf-8", newline="") as f:
        return [Place.model_validate(row) for row in csv.DictReader(f)]


# ---------------------------------------------------------------- area codes (phonenumbers)
def _split_description(description: str, index: RegionIndex) -> tuple[Region, list[str]] | None:
    """'四川省成都市、资阳市、眉山市' → (四川省, ['成都市', '资阳市', '眉山市'])."""
    for province in index.provinces():
        for name in (province.name, province.short):
            if description.startswith(name):
                rest = description[len(name):]
                return province, [p for p in rest.split("、") if p] if rest else []
    return None


@lru_cache(maxsize=1)
def area_codes() -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """City adcode → [(area code without the 0, adcodes of every city the code covers, "" for a
    name the index does not know)], the first city first, from
    phonenumbers' Chinese geocoding prefixes of fixed lines (86 + 10, 2x or a 3-digit code)."""
    from phonenumbers.geodata import GEOCODE_DATA

    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for prefix in sorted(GEOCODE_DATA):
        description = GEOCODE_DATA[prefix].get("zh")
        if not description or not _LANDLINE.match(prefix):
            continue
        split = _split_description(description, index)
        if split is None:
            continue
        cities = _described_cities(index, *split)
        first = cities[0] if cities else None
        if first is not None:
            out[first.adcode].append((prefix[2:], tuple(c.adcode if c else "" for c in cities)))
    return dict(out)


def _described_cities(index: RegionIndex, province: Region, pieces: list[str]) -> Sequence[Region | None]:
    """The cities an area code's description names, in its order (None for a name the index does
    not know), or none at all where the first name is not a city: then the code has no clean truth."""
    from sinoloc.tools.regions import Level

    if not pieces:  # 北京市: the municipality is its one city
        children = index.children(province)
        return children if len(children) == 1 else []
    found = [index.lookup(p, level=Level.CITY, within=province)[:1] for p in pieces]
    if not found[0]:  # the first piece is a county or an old name: not a clean truth
        return []
    return [c[0] if c else None for c in found]  # 株州 (sic) stays unresolved


def landline_number(code: str, rng: random.Random, too_long: bool = False) -> str | None:
    """'0351-2695722': a subscriber number that phonenumbers takes as a valid fixed line of
    ``code`` (or, with ``too_long``, the same with one digit more, which it rejects)."""
    from phonenumbers import geocoder
    from phonenumbers.geodata import GEOCODE_DATA

    wanted = GEOCODE_DATA[f"86{code}"]["zh"]
    for _ in range(300):
        length = rng.choice((8, 7))
        sub = str(rng.randint(2, 8)) + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))
        number = phonenumbers.parse(f"0{code}{sub}", "CN")
        if not (phonenumbers.is_valid_number(number)
                and phonenumbers.number_type(number) in _LANDLINE_TYPES
                and geocoder.description_for_number(number, "zh") == wanted):
            continue
        if too_long:
            sub += str(rng.randint(0, 9))
            if phonenumbers.is_valid_number(phonenumbers.parse(f"0{code}{sub}", "CN")):
                continue
        return f"0{code}-{sub}"
    return None


# ---------------------------------------------------------------- plates (plates.csv)
def _plates_csv() -> Path:
    import sinoloc

    return Path(sinoloc.__file__).parent / "tools" / "knowledge" / "data" / "plates.csv"


@lru_cache(maxsize=1)
def plate_prefixes() -> dict[str, list[tuple[str, str]]]:
    """Province adcode → [(prefix, city adcode)] for prefixes registered in exactly one city."""
    from sinoloc.tools.regions import Level, get_region_index

    index = get_region_index()
    provinces = {p.short: p for p in index.provinces()}
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with _plates_csv().open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            province = provinces.get(row["province"])
            cities = [c for c in row["cities"].split(";") if c]
            if province is None or len(cities) != 1 or row.get("note"):
                continue
            found = index.lookup(cities[0], level=Level.CITY, within=province)
            if found:
                out[province.adcode].append((row["prefix"], found[0].adcode))
    return dict(out)


def plate_serial(rng: random.Random, confusable: bool = False) -> str:
    """A 5-character serial; ``confusable`` writes at least one 0 as O or 1 as I, the slips OCR
    makes on real plates (which never carry O or I)."""
    pattern = rng.choice(("DDDDD", "LDDDD", "DDDDL", "LLDDD", "DLDDD"))
    chars = [str(rng.randint(0, 9)) if p == "D" else rng.choice(_PLATE_LETTERS) for p in pattern]
    if confusable:
        digits = [i for i, p in enumerate(pattern) if p == "D"]
        chars[rng.choice(digits)] = rng.choice("01")
        chars = [{"0": "O", "1": "I"}.get(c, c) for c in chars]
    return "".join(chars)


def format_plate(prefix: str, serial: str, rng: random.Random) -> str:
    return prefix + rng.choice(("·", "·", " ", "")) + serial

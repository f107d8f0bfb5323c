"""Where people live: a population proxy per district, for weighting ambiguous clues.

No county-level census table is published on the package registries, so the shipped table
(``data/district_population.csv``, built by :mod:`.build_data`) is a documented proxy: the
number of urban grass-roots units (社区 / 居委会) and rural ones (村 / 嘎查 / …) in each county of
the national division codes, each weighted by the 2020 census's residents per unit of its kind
(urban ≈ 7944, rural ≈ 937; see ``data/README.md``). Districts the source does not cover (Hong
Kong, Macau, Taiwan, a few new XPCC cities) carry the national median, marked in ``method``.
When loaded, each province's districts are scaled to its 2020 census total
(``data/census_2020_provinces.csv``): the proxy spreads people within a province, the census
says how many live there.
"""

from __future__ import annotations

import csv
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sinoloc.tools.regions import Level, RegionIndex, get_region_index

DATA_FILE = Path(__file__).parent / "data" / "district_population.csv"
COLUMNS = ["adcode", "name", "urban_units", "rural_units", "population_proxy", "method",
           "jionlp_counties", "source"]
METHODS = {"code", "renamed", "name_in_city", "name_in_province", "leftover_in_city", "zone_share",
           "fill_national_median"}


@dataclass(frozen=True, slots=True)
class DistrictPopulation:
    adcode: str
    name: str
    urban_units: int
    rural_units: int
    population: float  # the proxy, in persons
    method: str
    source: str


class PopulationTableError(ValueError):
    """The shipped table is malformed (a broken build, a hand edit)."""


def _validate(row: dict, line: int) -> DistrictPopulation:
    adcode = row["adcode"]
    if len(adcode) != 6 or not adcode.isdigit():
        raise PopulationTableError(f"line {line}: bad adcode {adcode!r}")
    methods = set(row["method"].split("+"))
    if not row["method"] or not methods <= METHODS:
        raise PopulationTableError(f"line {line}: unknown method {row['method']!r}")
    if not row["source"].strip():
        raise PopulationTableError(f"line {line}: no source")
    try:
        urban, rural, value = int(row["urban_units"]), int(row["rural_units"]), float(row["population_proxy"])
    except ValueError as exc:
        raise PopulationTableError(f"line {line}: {exc}") from exc
    if value <= 0 or urban < 0 or rural < 0:
        raise PopulationTableError(f"line {line}: non-positive population for {adcode}")
    return DistrictPopulation(adcode, row["name"], urban, rural, value, row["method"], row["source"])


def _rows(path: Path, columns: list[str]) -> Iterator[tuple[int, dict]]:
    """The rows of a shipped CSV with their line numbers, once its header is the expected one."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != columns:
            raise PopulationTableError(f"{path.name}: columns {reader.fieldnames} != {columns}")
        yield from enumerate(reader, start=2)


@lru_cache(maxsize=1)
def load_population(path: Path = DATA_FILE) -> dict[str, DistrictPopulation]:
    """The table, validated: every column present, adcodes unique, each row sourced."""
    table: dict[str, DistrictPopulation] = {}
    for line, row in _rows(path, COLUMNS):
        item = _validate(row, line)
        if item.adcode in table:
            raise PopulationTableError(f"line {line}: duplicate adcode {item.adcode}")
        table[item.adcode] = item
    if not table:
        raise PopulationTableError(f"{path.name}: empty")
    return table


CENSUS_FILE = Path(__file__).parent / "data" / "census_2020_provinces.csv"
CENSUS_COLUMNS = ["adcode", "name", "population_2020", "source"]


@lru_cache(maxsize=1)
def load_census_provinces(path: Path = CENSUS_FILE) -> dict[str, int]:
    """The 2020 census resident population of the 31 mainland provinces (adcode → persons).

    Not used to build the proxy, so it stays an independent yardstick of the raw proxy
    (``tests/unit/test_places.py``: a build error that inflates a county shows up as a province far
    off its census total); at load time it calibrates each province's total
    (:func:`calibrate_to_census`)."""
    out: dict[str, int] = {}
    for line, row in _rows(path, CENSUS_COLUMNS):
        adcode = row["adcode"]
        if len(adcode) != 6 or not adcode.endswith("0000") or adcode in out:
            raise PopulationTableError(f"line {line}: bad or duplicate province adcode {adcode!r}")
        if not row["source"].strip():
            raise PopulationTableError(f"line {line}: no source")
        value = int(row["population_2020"])
        if value <= 0:
            raise PopulationTableError(f"line {line}: non-positive population for {adcode}")
        out[adcode] = value
    return out


_CACHE: weakref.WeakKeyDictionary[RegionIndex, np.ndarray] = weakref.WeakKeyDictionary()
_WEIGHTS: weakref.WeakKeyDictionary[RegionIndex, np.ndarray] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def proxy_population(index: RegionIndex) -> np.ndarray:
    """The raw proxy of each district of ``index`` (aligned with ``index.districts``); a district
    missing from the table (another boundary version) gets the table's median."""
    table = load_population()
    fill = float(np.median([p.population for p in table.values()]))
    return np.array([table[d.adcode].population if d.adcode in table else fill
                     for d in index.districts], dtype=np.float64)


def calibrate_to_census(proxy: np.ndarray, index: RegionIndex,
                        census: dict[str, int]) -> np.ndarray:
    """Each province's districts scaled so that they sum to its census total: the proxy says
    how people are spread inside a province, the census how many live in it. The raw proxy is
    off by province-wide factors (广东 0.59, 广西 0.60, 山东 1.33, 西藏 1.82: migrant cities and
    merged rural communities, ``data/README.md``); without this the most populous province of a
    no-evidence guess was 山东 instead of 广东. Regions outside the census table (Hong Kong,
    Macau, Taiwan) keep the proxy."""
    out = proxy.copy()
    for adcode, total in census.items():
        mask = index.district_province == adcode
        have = float(proxy[mask].sum())
        if have > 0:
            out[mask] = proxy[mask] * (total / have)
    return out


def district_population(index: RegionIndex) -> np.ndarray:
    """The population of each district of ``index`` (aligned with ``index.districts``): the
    proxy, calibrated to the 2020 census per province (:func:`calibrate_to_census`)."""
    with _LOCK:
        cached = _CACHE.get(index)
        if cached is None:
            cached = calibrate_to_census(proxy_population(index), index, load_census_provinces())
            cached.setflags(write=False)
            _CACHE[index] = cached
        return cached


def district_weights(index: RegionIndex) -> np.ndarray:
    """Positive weights over ``index.districts`` summing to 1 (a population prior); computed
    once per index and read-only (copy before changing it)."""
    weights = _WEIGHTS.get(index)
    if weights is None:
        population = district_population(index)
        weights = population / population.sum()
        weights.setflags(write=False)
        _WEIGHTS[index] = weights
    return weights


def region_weight(adcode: str, level: Level | str, index: RegionIndex | None = None) -> float:
    """The population proxy (persons) of a province, city or district; 0 for an unknown region."""
    index = index or get_region_index()
    region = index.get(str(adcode), level)
    if region is None:
        return 0.0
    return float(district_population(index)[index.district_mask(region)].sum())

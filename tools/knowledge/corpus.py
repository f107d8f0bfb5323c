"""The clue corpus: what expert players read from a scene, as cited, validated data.

One entry per clue (``data/corpus/*.csv``, plus the user's own CSV or YAML files named in
``SINOLOC_KNOWLEDGE_FILES``): the clue in Chinese and English, the regions it points to (adcodes
with a weight), how strongly it localises, where it never occurs (``excludes``) or whether it
occurs *only* in its regions (``exclusive``), literal sign texts that identify it (``patterns``)
and the public source of the fact. Every file is validated against the shipped boundary data
when it is loaded; one bad row stops the load with its file and line.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from sinoloc.tools.knowledge.files import (
    USER_FILES_ENV,
    USER_KNOWLEDGE_ENV,
    promoted_file,
    shipped_files,
    use_user_files,
    user_file_key,
    user_files,
)
from sinoloc.tools.regions import Region, RegionIndex, get_region_index
from sinoloc.tools.regions.names import normalize

MAX_STRENGTH = 0.97


class KnowledgeKind(str, Enum):
    SCRIPT = "script"  # script and language
    PLATE = "plate"  # licence plates
    ROAD_SIGN = "road_sign"  # road signs and road markings
    BOLLARD_GUARDRAIL = "bollard_guardrail"
    STREET_FURNITURE = "street_furniture"
    UTILITY_POLE = "utility_pole"  # poles and the utilities named on them
    ARCHITECTURE = "architecture"  # architecture and roofs
    VEGETATION = "vegetation"  # vegetation and crops
    TERRAIN = "terrain"  # soil and terrain
    CLIMATE = "climate"  # climate, season and sun
    LANDMARK = "landmark"
    TRANSPORT = "transport"
    COMMERCE = "commerce"  # commerce and chains
    DIALECT = "dialect"  # dialect words and toponym elements on signs


class CorpusError(ValueError):
    """A clue file is malformed, or names a region that does not exist."""


class RegionWeight(BaseModel):
    adcode: str = Field(pattern=r"^\d{6}$")
    weight: float = Field(gt=0, le=1)


def _split(value, sep: str = ";") -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(sep) if part.strip()]


class ClueEntry(BaseModel):
    """One clue. ``strength`` is the probability that the photo lies in ``regions`` if this clue
    were the only evidence; 0 marks a clue that does not localise (kept so the agent can learn
    that, e.g., yellow-black bollards are a national standard)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: KnowledgeKind
    clue_zh: str = Field(min_length=2)
    clue_en: str = Field(min_length=2)
    regions: list[RegionWeight] = Field(default_factory=list)
    strength: float = Field(ge=0, le=MAX_STRENGTH)
    exclusive: bool = False
    excludes: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    source: str
    origin: str = ""  # the file (and line) it came from

    @field_validator("regions", mode="before")
    @classmethod
    def _parse_regions(cls, value):
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return value
        out = []
        for item in _split(value):
            adcode, _, weight = item.partition(":")
            out.append({"adcode": adcode.strip(), "weight": float(weight) if weight else 1.0})
        return out

    @field_validator("excludes", "patterns", mode="before")
    @classmethod
    def _parse_list(cls, value):
        return _split(value)

    @field_validator("exclusive", mode="before")
    @classmethod
    def _parse_flag(cls, value):
        if isinstance(value, str):
            flag = value.strip().lower()
            if flag not in ("", "yes", "no", "true", "false"):
                raise ValueError(f"exclusive must be yes or empty, not {value!r}")
            return flag in ("yes", "true")
        return bool(value)

    @field_validator("source")
    @classmethod
    def _has_source(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("every clue needs a source")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> ClueEntry:
        if (self.strength > 0) != bool(self.regions):
            raise ValueError("a clue with strength > 0 needs regions, and one with regions "
                             "needs strength > 0")
        if self.exclusive and not self.regions:
            raise ValueError("an exclusive clue needs regions")
        codes = [r.adcode for r in self.regions]
        if len(set(codes)) != len(codes):
            raise ValueError("a region is listed twice")
        if set(codes) & set(self.excludes):
            raise ValueError("a region is both supported and excluded")
        for pattern in self.patterns:  # one rare character (垸, 嘅) is distinctive; "ab" is not
            if len(pattern) < (1 if re.fullmatch(r"[\u4e00-\u9fff]+", pattern) else 3):
                raise ValueError(f"pattern {pattern!r} is too short to identify a clue")
        return self

    @property
    def locates(self) -> bool:
        return self.strength > 0


@dataclass(eq=False)  # compared and hashed by identity: caches key on the loaded corpus
class Corpus:
    """Validated entries with their regions resolved against the boundary data."""

    entries: tuple[ClueEntry, ...]
    index: RegionIndex
    by_id: dict[str, ClueEntry] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {e.id: e for e in self.entries}

    def __len__(self) -> int:
        return len(self.entries)

    def _region(self, adcode: str) -> Region:
        """The region of one of the corpus's adcodes (:func:`validate` checked that each exists)."""
        region = self.index.get(adcode)
        if region is None:
            raise KeyError(f"adcode {adcode} is not in the boundary data")
        return region

    def regions(self, entry: ClueEntry) -> list[tuple[Region, float]]:
        return [(self._region(r.adcode), r.weight) for r in entry.regions]

    def region_names(self, entry: ClueEntry) -> list[str]:
        return [self.index.label(region) for region, _ in self.regions(entry)]

    def excluded_names(self, entry: ClueEntry) -> list[str]:
        return [self.index.label(self._region(adcode)) for adcode in entry.excludes]

    def conflict(self, entry: ClueEntry, region: Region) -> str | None:
        """Why ``region`` (a hypothesis) is inconsistent with ``entry`` having been observed, or
        None. A region conflicts when it lies in an excluded region, or when the clue is
        exclusive and the region neither lies in nor contains one of the clue's regions."""
        for adcode in entry.excludes:
            excluded = self._region(adcode)
            if self.index.is_within(region, excluded):
                return f"it does not occur in {self.index.label(excluded)}"
        if entry.exclusive:
            related = any(self.index.is_within(region, r) or self.index.is_within(r, region)
                          for r, _ in self.regions(entry))
            if not related:
                return "it occurs only in " + "、".join(self.region_names(entry))
        return None

    def stats(self) -> dict[str, dict[str, int]]:
        """Entry counts per kind and per province (an entry counts once for each province its
        regions touch)."""
        per_kind = Counter(e.kind.value for e in self.entries)
        per_province: Counter = Counter()
        for entry in self.entries:
            provinces = {self.index.province_of(region).name for region, _ in self.regions(entry)}
            per_province.update(provinces)
        for province in self.index.provinces():
            per_province.setdefault(province.name, 0)
        return {"kind": dict(sorted(per_kind.items())),
                "province": dict(sorted(per_province.items(), key=lambda kv: -kv[1]))}


# ------------------------------------------------------------------ reading files
def _rows_from_csv(text: str, origin: str) -> Iterable[tuple[str, dict]]:
    for line_no, raw in enumerate(csv.DictReader(text.splitlines()), start=2):
        if None in raw:
            raise CorpusError(f"{origin}:{line_no}: more cells than columns")
        yield f"{origin}:{line_no}", {k: (v or "") for k, v in raw.items()}


def _rows_from_yaml(text: str, origin: str) -> Iterable[tuple[str, dict]]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CorpusError(f"{origin}: not valid YAML: {exc}") from exc
    if isinstance(data, dict) and "clues" in data:
        data = data["clues"]
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise CorpusError(f"{origin}: expected a list of clue mappings (or a 'clues:' list)")
    for number, row in enumerate(data, start=1):
        yield f"{origin}#{number}", row


def parse_file(path: Path, errors: list[str] | None = None) -> list[ClueEntry]:
    """Entries of one CSV or YAML file, checked for shape (not yet against the region data).
    With ``errors``, a bad row is noted there and the next one read (``knowledge validate``
    lists every problem); without, the first one raises :class:`CorpusError`."""
    if path.suffix.lower() not in (".csv", ".yaml", ".yml"):
        raise CorpusError(f"{path}: clue files are .csv, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read clue file: {exc}") from exc
    reader = _rows_from_yaml if path.suffix.lower() in (".yaml", ".yml") else _rows_from_csv
    if errors is None:
        return [_entry(row, where) for where, row in reader(text, str(path))]
    entries = []
    try:
        for where, row in reader(text, str(path)):
            try:
                entries.append(_entry(row, where))
            except CorpusError as exc:
                errors.append(str(exc))
    except CorpusError as exc:  # the file's structure itself (not YAML, a ragged CSV row)
        errors.append(str(exc))
    return entries


def _plain(error: ErrorDetails) -> str:
    """One pydantic error in the words of the file: the column, then what is wrong with it."""
    column = ".".join(map(str, error["loc"]))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "missing (a required column)"
    elif error["type"] == "string_pattern_mismatch" and column == "id":
        message = "ids are lower-case letters, digits and '-' (e.g. sign-xinjiang-uyghur)"
    elif message[:1].isupper():
        message = message[0].lower() + message[1:]
    return f"{column}: {message}" if column else message


def _entry(row: dict, where: str) -> ClueEntry:
    try:
        return ClueEntry.model_validate({**row, "origin": where})
    except ValidationError as exc:
        problems = "; ".join(_plain(e) for e in exc.errors(include_url=False))
        raise CorpusError(f"{where}: {problems}") from exc
    except ValueError as exc:
        raise CorpusError(f"{where}: {exc}") from exc


def validate(entries: list[ClueEntry], index: RegionIndex) -> None:
    """Cross-entry and region checks: known adcodes, unique ids, no duplicated clue text, no
    pattern claimed by two entries (the first problem raises :class:`CorpusError`)."""
    for problem in problems(entries, index):
        raise CorpusError(problem)


def problems(entries: list[ClueEntry], index: RegionIndex) -> Iterator[str]:
    """Every cross-entry and region problem, one line each, in file order."""
    seen_ids: dict[str, str] = {}
    seen_text: dict[str, str] = {}
    seen_patterns: dict[str, str] = {}
    for entry in entries:
        where = entry.origin or entry.id
        if entry.id in seen_ids:
            yield f"{where}: duplicate id {entry.id!r} (first in {seen_ids[entry.id]})"
        seen_ids[entry.id] = where
        key = normalize(entry.clue_zh)
        if key in seen_text:
            yield f"{where}: the same clue text as {seen_text[key]}"
        seen_text[key] = where
        for adcode in [r.adcode for r in entry.regions] + entry.excludes:
            if index.get(adcode) is None:
                yield f"{where}: unknown adcode {adcode} (not in the boundary data)"
        yield from _home_background(entry, where, index)
        for pattern in entry.patterns:
            if pattern in seen_patterns:
                yield f"{where}: pattern {pattern!r} is already used by {seen_patterns[pattern]}"
            seen_patterns.setdefault(pattern, entry.id)


HOME_BACKGROUND = 0.1  # the most a home-region bank's wider region may weigh (see below)


def _home_background(entry: ClueEntry, where: str, index: RegionIndex) -> Iterator[str]:
    """A regional bank (ids ``bank-…``) that names its home city or county at weight 1 and the
    province or city around it at a lower weight lists that wider region as a background: a city
    or rural commercial bank keeps most of its branches at home and has a branch or a few in each
    other city of its province, while a clue's weight is read per district. At 0.5-0.7 the
    background's many districts outweighed the home (红塔银行 answered 昆明, not 玉溪; 天府银行
    成都, not 南充; 华润银行 广州, not 珠海), so every such row gives the wider region
    :data:`HOME_BACKGROUND`: then even the largest other city of a province (广州 holds 5.6 times
    珠海's start mass) stays below the home on the bank's sign alone."""
    if not entry.id.startswith("bank-"):
        return
    weights = {r.adcode: r.weight for r in entry.regions}
    homes = [index.get(a) for a, w in weights.items() if w >= 1]
    for adcode, weight in weights.items():
        outer = index.get(adcode)
        if outer is None or weight >= 1 or weight <= HOME_BACKGROUND:
            continue
        if any(h is not None and h.adcode != adcode and index.is_within(h, outer) for h in homes):
            yield (f"{where}: a regional bank's wider region {adcode} is a background around its "
                   f"home: weight at most {HOME_BACKGROUND}, not {weight}")


def check_files(extra: Iterable[str | Path] = (), index: RegionIndex | None = None
                ) -> tuple[int, list[str]]:
    """``knowledge validate``: the entries read and every problem found in the shipped corpus
    and ``extra`` (not only the first)."""
    index = index or get_region_index()
    errors: list[str] = []
    entries: list[ClueEntry] = []
    for path in shipped_files() + [Path(p) for p in extra]:
        entries += parse_file(path, errors)
    errors += problems(entries, index)
    return len(entries), errors


def load_corpus(extra: Iterable[str | Path] = (), index: RegionIndex | None = None,
                include_shipped: bool = True) -> Corpus:
    index = index or get_region_index()
    files = (shipped_files() if include_shipped else []) + [Path(p) for p in extra]
    entries: list[ClueEntry] = []
    for path in files:
        entries += parse_file(path)
    validate(entries, index)
    return Corpus(tuple(entries), index)


@lru_cache(maxsize=4)
def corpus_for(user_files: tuple[str, ...]) -> Corpus:
    """The shipped corpus merged with ``user_files`` (loaded once per distinct tuple)."""
    return load_corpus(user_files)


def get_corpus() -> Corpus:
    """The shipped corpus merged with the files named in ``SINOLOC_KNOWLEDGE_FILES``."""
    return corpus_for(user_file_key())


__all__ = [
    "USER_FILES_ENV", "USER_KNOWLEDGE_ENV", "ClueEntry", "Corpus", "CorpusError", "KnowledgeKind",
    "RegionWeight",
    "check_files", "corpus_for", "get_corpus", "load_corpus", "parse_file", "problems",
    "promoted_file", "shipped_files", "use_user_files", "user_file_key", "user_files", "validate",
]

"""The township / street-office and village gazetteer: names below the district → their county.

Signs in rural China name towns and villages (``华亭镇``, ``北新村``, guide signs ``→ 华亭镇 5 km``)
far more often than districts. ``data/towns.csv.gz`` (built by :mod:`.build_data` from the
national division codes in jionlp) lists 43 103 townships / street offices with their district
(a development zone's only with its city) and 657 807 villages / communities.

Names are indexed three ways: a town's full name (华亭镇, 南翔镇, 嘉定镇街道), its bare name
without the suffix (华亭), and a village's full name (北新村, 华旺社区). Reading the 3 MB table
takes seconds, so the first use writes a compact index (sorted name array + postings, ``.npz``)
into the user cache directory, keyed by the table's hash; later processes memory-load it in
tens of milliseconds, and nothing is read until a line of text is first matched.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import os
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_FILE = Path(__file__).parent / "data" / "towns.csv.gz"
COLUMNS = ["level", "adcode", "town", "villages", "source"]
INDEX_VERSION = "1"  # bump when the derived index changes
MAX_NAME = 12  # longer names are not indexed (they are not written on signs in one piece)
# suffixes whose removal leaves a town's bare name, longest first
TOWN_SUFFIXES = ("街道办事处", "民族乡", "街道", "苏木", "镇", "乡")
log = logging.getLogger(__name__)


class NameKind(IntEnum):
    TOWN = 0  # a township / street office's full name (华亭镇)
    TOWN_BARE = 1  # the same without its suffix (华亭)
    VILLAGE = 2  # a village / community's full name (北新村, 华旺社区)


@dataclass(frozen=True, slots=True)
class PlaceHit:
    """A name found in text and the regions (level, adcode) that have a place of that name."""

    text: str
    start: int
    end: int
    kind: NameKind
    regions: tuple[tuple[str, str], ...]


class TownTableError(ValueError):
    """The shipped table is malformed."""


def bare_name(town: str) -> str | None:
    for suffix in TOWN_SUFFIXES:
        if town.endswith(suffix) and len(town) - len(suffix) >= 2:
            return town[: -len(suffix)]
    return None


def read_table(path: Path = DATA_FILE) -> list[tuple[str, str, str, list[str]]]:
    """(level, adcode, town, villages) rows, validated: the columns, a level, a 6-digit adcode,
    a source on every row."""
    with gzip.open(path, "rb") as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        if reader.fieldnames != COLUMNS:
            raise TownTableError(f"{path.name}: columns {reader.fieldnames} != {COLUMNS}")
        rows = []
        for line, row in enumerate(reader, start=2):
            if row["level"] not in ("district", "city", "province"):
                raise TownTableError(f"line {line}: bad level {row['level']!r}")
            if len(row["adcode"]) != 6 or not row["adcode"].isdigit():
                raise TownTableError(f"line {line}: bad adcode {row['adcode']!r}")
            if not row["town"] or not row["source"].strip():
                raise TownTableError(f"line {line}: no town name or no source")
            villages = [v for v in row["villages"].split("|") if v]
            rows.append((row["level"], row["adcode"], row["town"], villages))
    if not rows:
        raise TownTableError(f"{path.name}: empty")
    return rows


class TownGazetteer:
    """Sorted names with their kind and the regions that have them; see :meth:`find`."""

    def __init__(self, names: np.ndarray, kinds: np.ndarray, starts: np.ndarray,
                 postings: np.ndarray, regions: list[tuple[str, str]], source_sha: str):
        self.names, self.kinds, self.starts, self.postings = names, kinds, starts, postings
        self.regions = regions
        self.source_sha = source_sha

    # ---------------------------------------------------------------- building
    @classmethod
    def from_rows(cls, rows, source_sha: str = "") -> TownGazetteer:
        """Entries (name, kind, region) gathered in one pass, then sorted and deduplicated by
        numpy (a first run's cost: a dict of sets took seconds)."""
        region_ids: dict[tuple[str, str], int] = {}
        names: list[str] = []
        kinds: list[int] = []
        rids: list[int] = []
        town, bare, village = int(NameKind.TOWN), int(NameKind.TOWN_BARE), int(NameKind.VILLAGE)
        for level, adcode, name, villages in rows:
            rid = region_ids.setdefault((level, adcode), len(region_ids))
            if len(name) <= MAX_NAME:
                names.append(name)
                kinds.append(town)
                rids.append(rid)
            stem = bare_name(name)
            if stem is not None:
                names.append(stem)
                kinds.append(bare)
                rids.append(rid)
            kept = [v for v in villages if 2 <= len(v) <= MAX_NAME]
            names += kept
            kinds += [village] * len(kept)
            rids += [rid] * len(kept)
        unique_names, name_ids = np.unique(np.array(names, dtype=f"<U{MAX_NAME}"),
                                           return_inverse=True)
        kind_arr, rid_arr = np.array(kinds, dtype=np.int64), np.array(rids, dtype=np.int64)
        order = np.lexsort((rid_arr, kind_arr, name_ids))  # by name, then kind, then region
        name_ids, kind_arr, rid_arr = name_ids[order], kind_arr[order], rid_arr[order]
        new_key = np.ones(len(order), dtype=bool)
        new_key[1:] = (name_ids[1:] != name_ids[:-1]) | (kind_arr[1:] != kind_arr[:-1])
        fresh = new_key.copy()  # a (name, kind, region) triple met before is one entry
        fresh[1:] |= rid_arr[1:] != rid_arr[:-1]
        name_ids, kind_arr, rid_arr, new_key = (a[fresh] for a in (name_ids, kind_arr, rid_arr,
                                                                   new_key))
        first = np.nonzero(new_key)[0]
        starts = np.append(first, len(rid_arr)).astype(np.int64)
        regions = sorted(region_ids, key=region_ids.__getitem__)
        return cls(unique_names[name_ids[first]], kind_arr[first].astype(np.int8), starts,
                   rid_arr.astype(np.int32), regions, source_sha)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            with open(tmp, "wb") as f:
                np.savez(f, names=self.names, kinds=self.kinds, starts=self.starts,
                         postings=self.postings,
                         regions=np.array([f"{lv}:{a}" for lv, a in self.regions]),
                         source_sha=np.array(self.source_sha))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def read(cls, path: Path) -> TownGazetteer:
        with np.load(path, allow_pickle=False) as data:
            regions = [tuple(r.split(":", 1)) for r in data["regions"].tolist()]
            return cls(data["names"], data["kinds"], data["starts"], data["postings"], regions,
                       str(data["source_sha"]))

    # ---------------------------------------------------------------- lookup
    def lookup(self, name: str, kind: NameKind | None = None) -> list[tuple[NameKind, tuple]]:
        """(kind, regions) of every entry called ``name``."""
        lo = int(np.searchsorted(self.names, name, side="left"))
        hi = int(np.searchsorted(self.names, name, side="right"))
        out = []
        for i in range(lo, hi):
            k = NameKind(int(self.kinds[i]))
            if kind is None or k is kind:
                ids = self.postings[self.starts[i]:self.starts[i + 1]]
                out.append((k, tuple(self.regions[j] for j in ids)))
        return out

    def find(self, text: str) -> list[PlaceHit]:
        """Longest-first, non-overlapping town and village names in ``text`` (one hit per kind
        at a span: 华亭镇 is a town's full name; 北新村 may also be a town elsewhere)."""
        text = unicodedata.normalize("NFKC", text)
        n = len(text)
        if n < 2:
            return []
        pieces, spans = [], []
        for i in range(n):
            for length in range(min(MAX_NAME, n - i), 1, -1):
                pieces.append(text[i:i + length])
                spans.append((i, i + length))
        arr = np.array(pieces, dtype=f"<U{MAX_NAME}")
        lo = np.searchsorted(self.names, arr, side="left")
        hi = np.searchsorted(self.names, arr, side="right")
        found: dict[int, list[PlaceHit]] = {}
        for p in np.nonzero(hi > lo)[0]:
            start, end = spans[p]
            if start in found:  # a longer name already starts here
                continue
            found[start] = [
                PlaceHit(pieces[p], start, end, NameKind(int(self.kinds[i])),
                         tuple(self.regions[j] for j in self.postings[self.starts[i]:self.starts[i + 1]]))
                for i in range(int(lo[p]), int(hi[p]))]
        hits: list[PlaceHit] = []
        last_end = 0
        for start in sorted(found):
            if start >= last_end:
                hits.extend(found[start])
                last_end = found[start][0].end
        return hits


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_towns(path: Path = DATA_FILE, cache_dir: Path | None = None) -> TownGazetteer:
    """The gazetteer from the user cache, rebuilt from the shipped table when it changed."""
    from sinoloc.tools.cache_progress import BuildProgress
    from sinoloc.tools.regions.index import default_cache_dir

    sha = _sha(path)
    cache = (cache_dir or default_cache_dir()) / f"towns-v{INDEX_VERSION}-{sha}.npz"
    if cache.exists():
        try:
            gazetteer = TownGazetteer.read(cache)
            if gazetteer.source_sha == sha:
                return gazetteer
        except (OSError, ValueError, KeyError) as exc:
            log.warning("town index %s unreadable (%s): rebuilding", cache, exc)
    progress = BuildProgress(what="the town index", unit="towns and villages", doing="indexing",
                             did="indexed")
    rows = read_table(path)
    total = len(rows) + sum(len(villages) for *_, villages in rows)
    progress(0, total)
    gazetteer = TownGazetteer.from_rows(rows, sha)
    progress(total, total)
    try:
        gazetteer.save(cache)
    except OSError as exc:  # a read-only cache dir costs speed, not correctness
        log.warning("could not write town index %s: %s", cache, exc)
    return gazetteer


_LOCK = threading.Lock()


def get_towns() -> TownGazetteer:
    """The process-wide town gazetteer (loaded on first use; thread-safe)."""
    with _LOCK:
        return _load_default()


@lru_cache(maxsize=1)
def _load_default() -> TownGazetteer:
    return load_towns()

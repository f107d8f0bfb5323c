"""Training data for the prior: labelled images, a split by location, and the class weights.

The split keeps every group of nearby images on one side: images closer than ``gap_km`` to each
other (single linkage, so a whole street of captures is one group) or with identical bytes form
one group, and whole groups go to validation until it holds its share. Nothing seen from one spot
in training is asked about in validation.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from sinoloc.tools.regions import haversine_km


class PriorExample(BaseModel):
    """One usable training or validation image."""

    id: str
    image: str
    lat: float
    lon: float
    province_adcode: str
    city_adcode: str
    district_adcode: str


class Split(BaseModel):
    train: list[str]
    validation: list[str]
    gap_km: float
    seed: int
    groups: int


def examples_from_dataset(path: str | Path, index) -> tuple[list[PriorExample], list[str]]:
    """The usable rows of a TuXun-style CSV / JSONL, labelled by reverse geocoding (eval's loader:
    coordinate systems converted, labels derived), and the reasons rows were skipped."""
    from sinoloc.tools.datasets import load_dataset

    examples, skipped, seen = [], [], set()
    for item in load_dataset(path, index):
        if item.id in seen:
            skipped.append(f"{item.id}: the id is used by an earlier row")
            continue
        seen.add(item.id)
        if not item.usable:
            skipped.append(f"{item.id}: " + "; ".join(p.message for p in item.problems
                                                      if p.severity == "error"))
            continue
        if not Path(item.image).is_file():
            skipped.append(f"{item.id}: image {item.image} is missing")
            continue
        t = item.truth
        if not (t.province_adcode and t.city_adcode and t.district_adcode):
            skipped.append(f"{item.id}: no district for its point")
            continue
        examples.append(PriorExample(id=item.id, image=item.image, lat=t.lat, lon=t.lon,
                                     province_adcode=t.province_adcode,
                                     city_adcode=t.city_adcode,
                                     district_adcode=t.district_adcode))
    return examples, skipped


class _Groups:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def location_groups(examples: list[PriorExample], gap_km: float,
                    content_keys: list[str] | None = None) -> list[int]:
    """A group number per example: chains of points closer than ``gap_km`` (and identical
    contents) share one."""
    groups = _Groups(len(examples))
    cell_deg = max(gap_km, 1e-3) / 111.0
    cells: dict[tuple[int, int], list[int]] = {}
    for i, ex in enumerate(examples):
        key = (int(np.floor(ex.lat / cell_deg)), int(np.floor(ex.lon / cell_deg)))
        cells.setdefault(key, []).append(i)
    for (row, col), members in cells.items():
        # longitude degrees shrink with latitude: look as many cells east and west as needed
        reach = int(np.ceil(1.0 / max(np.cos(np.radians(min(abs(row * cell_deg), 89.0))), 0.02)))
        for dr in (-1, 0, 1):
            for dc in range(-reach, reach + 1):
                for j in cells.get((row + dr, col + dc), ()):
                    for i in members:
                        if i < j and haversine_km(examples[i].lon, examples[i].lat,
                                                  examples[j].lon, examples[j].lat) < gap_km:
                            groups.join(i, j)
    if content_keys is not None:
        first: dict[str, int] = {}
        for i, content in enumerate(content_keys):
            if content in first:
                groups.join(i, first[content])
            first.setdefault(content, i)
    roots = [groups.find(i) for i in range(len(examples))]
    numbering = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return [numbering[r] for r in roots]


def split_by_location(examples: list[PriorExample], validation_share: float = 0.2,
                      gap_km: float = 1.0, seed: int = 0,
                      content_keys: dict[str, str] | None = None) -> Split:
    """``content_keys`` (id → hash of the file) also keeps identical files together."""
    if len(examples) < 4:
        raise ValueError(f"{len(examples)} usable images: the prior needs at least 4 to train "
                         "and validate")
    keys = [content_keys[e.id] for e in examples] if content_keys is not None else None
    group_of = location_groups(examples, gap_km, keys)
    members: dict[int, list[str]] = {}
    for ex, g in zip(examples, group_of, strict=True):
        members.setdefault(g, []).append(ex.id)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    target = max(1, round(validation_share * len(examples)))
    validation: list[str] = []
    for g in order:
        if len(validation) >= target:
            break
        if len(examples) - len(validation) - len(members[g]) < 1:
            continue  # never leave training empty
        validation += members[g]
    if not validation:
        raise ValueError(f"every image lies within {gap_km} km of the others: no location can "
                         "be held out for validation (lower --split-gap-km)")
    held = set(validation)
    return Split(train=[e.id for e in examples if e.id not in held],
                 validation=[e.id for e in examples if e.id in held],
                 gap_km=gap_km, seed=seed, groups=len(members))


def class_weights(labels: list[int], classes: int, power: float) -> np.ndarray:
    """``(count / mean count) ** -power`` per class (clipped to [0.1, 10]): rare regions weigh
    more, ``power`` 0 weighs all alike, 1 fully inverts the frequencies."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=classes).astype(float)
    seen = counts > 0
    weights = np.ones(classes)
    weights[seen] = np.clip((counts[seen] / counts[seen].mean()) ** -power, 0.1, 10.0)
    return weights


def coverage_note(train: list[PriorExample], validation: list[PriorExample]) -> str:
    """How many validation images fall in districts training never saw (they cannot be right
    at district level)."""
    seen = Counter(e.district_adcode for e in train)
    unseen = sum(e.district_adcode not in seen for e in validation)
    return (f"{unseen} of {len(validation)} validation images lie in districts with no training "
            "image" if unseen else "every validation district has training images")

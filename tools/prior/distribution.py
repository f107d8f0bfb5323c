"""What the prior says about one image: a distribution over its label space's districts, the
province and city marginals that follow from it, and the greedy hierarchical decoding.

The joint is built top-down (``p(d) = p(province) · p(city | province) · p(d | city)``), so the
marginals of one distribution always agree: a province's probability is the sum of its cities',
and the decoded district lies in the decoded city, which lies in the decoded province.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from sinoloc.tools.prior.labels import LabelSpace
from sinoloc.tools.regions import Level, RegionIndex


class RankedRegion(BaseModel):
    level: Level
    adcode: str
    name: str
    probability: float


class PriorResult(BaseModel):
    """The prior's reading of one image (JSON-serialisable; no arrays)."""

    provinces: list[RankedRegion]
    cities: list[RankedRegion]
    districts: list[RankedRegion]
    decoded: list[RankedRegion] = Field(description=(
        "the most probable province, then the most probable city in it, then district in it"))
    district_probs: dict[str, float] = Field(description=(
        "the distribution over districts (adcode → probability), largest first, cut where the "
        "listed mass reaches the coverage or the list its limit; the rest is spread evenly"))
    views: int = Field(description="views pooled (several for a panorama)")
    checkpoint: str = ""

    def top(self, level: Level, k: int = 3) -> list[RankedRegion]:
        ranked = {Level.PROVINCE: self.provinces, Level.CITY: self.cities,
                  Level.DISTRICT: self.districts}[level]
        return ranked[:k]

    def describe(self, k: int = 3) -> str:
        def line(level: Level) -> str:
            return ", ".join(f"{r.name} {r.probability:.0%}" for r in self.top(level, k))

        return (f"province: {line(Level.PROVINCE)}; city: {line(Level.CITY)}; "
                f"district: {line(Level.DISTRICT)}")


class Distribution:
    """A district distribution over a label space, with its marginals."""

    def __init__(self, probs: np.ndarray, space: LabelSpace):
        probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
        self.probs = probs / probs.sum()
        self.space = space
        district_parent = np.asarray(space.district_parent)
        self.city = np.bincount(district_parent, weights=self.probs, minlength=len(space.cities))
        self.province = np.bincount(np.asarray(space.city_parent), weights=self.city,
                                    minlength=len(space.provinces))

    def decode(self) -> tuple[int, int, int]:
        """Greedy top-down: best province, best city in it, best district in that city."""
        province = int(np.argmax(self.province))
        in_province = np.asarray(self.space.city_parent) == province
        city = int(np.argmax(np.where(in_province, self.city, -1.0)))
        in_city = np.asarray(self.space.district_parent) == city
        district = int(np.argmax(np.where(in_city, self.probs, -1.0)))
        return province, city, district

    def result(self, index: RegionIndex, k: int = 5, views: int = 1, checkpoint: str = "",
               coverage: float = 0.995, max_districts: int = 400) -> PriorResult:
        provinces, cities, districts = self.space.regions(index)

        def ranked(values: np.ndarray, regions, count: int) -> list[RankedRegion]:
            order = np.argsort(-values, kind="stable")[:count]
            return [RankedRegion(level=regions[i].level, adcode=regions[i].adcode,
                                 name=regions[i].name, probability=round(float(values[i]), 6))
                    for i in order]

        p, c, d = self.decode()
        decoded = [ranked(self.province[[p]], [provinces[p]], 1)[0],
                   ranked(self.city[[c]], [cities[c]], 1)[0],
                   ranked(self.probs[[d]], [districts[d]], 1)[0]]
        return PriorResult(
            provinces=ranked(self.province, provinces, k), cities=ranked(self.city, cities, k),
            districts=ranked(self.probs, districts, k), decoded=decoded,
            district_probs=self.sparse(coverage, max_districts), views=views,
            checkpoint=checkpoint)

    def sparse(self, coverage: float = 0.995, max_districts: int = 400) -> dict[str, float]:
        """The largest district probabilities (adcode → probability) until they hold
        ``coverage`` of the mass or number ``max_districts``: what the tool hands to fusion."""
        order = np.argsort(-self.probs, kind="stable")
        cumulative = np.cumsum(self.probs[order])
        keep = min(int(np.searchsorted(cumulative, coverage)) + 1, max_districts, len(order))
        return {self.space.districts[i]: round(float(self.probs[i]), 6) for i in order[:keep]
                if self.probs[i] >= 1e-6}


def index_vector(district_probs: dict[str, float], index: RegionIndex,
                 floor: float = 1e-9) -> np.ndarray:
    """A sparse district distribution as a vector over every district of the region index:
    the unlisted districts share the mass the listing leaves, and none is exactly zero (a
    prior can be wrong; other evidence must be able to overrule it)."""
    vector = np.zeros(len(index.districts))
    for adcode, p in district_probs.items():
        position = index.district_position.get(adcode)
        if position is not None:
            vector[position] = max(float(p), 0.0)
    listed = vector > 0
    residual = max(0.0, 1.0 - float(vector.sum()))
    if (~listed).any():
        vector[~listed] = residual / int((~listed).sum())
    vector = np.maximum(vector, floor)
    return vector / vector.sum()

"""The prior's label space: the provinces, cities and districts it can name, with parent links.

Three flat lists of adcodes, one per level, and for each city and district the position of its
parent in the level above. The space is stored in the checkpoint, so a checkpoint decodes the
same way whatever region data is installed; :meth:`LabelSpace.check` says when the installed
index no longer knows one of its regions.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from pydantic import BaseModel, Field, model_validator

from sinoloc.tools.regions import Level, Region, RegionIndex


def _city_adcode(district: Region) -> str:
    """A district's city (the region data gives every district one; only a province has none)."""
    if district.city_adcode is None:
        raise ValueError(f"district {district.adcode} has no city in the region data")
    return district.city_adcode


class LabelSpace(BaseModel):
    provinces: list[str] = Field(description="province adcodes")
    cities: list[str] = Field(description="city adcodes")
    city_parent: list[int] = Field(description="for each city, its province's position")
    districts: list[str] = Field(description="district adcodes")
    district_parent: list[int] = Field(description="for each district, its city's position")

    @model_validator(mode="after")
    def _consistent(self) -> LabelSpace:
        if len(self.city_parent) != len(self.cities) or \
                len(self.district_parent) != len(self.districts):
            raise ValueError("every city and district needs exactly one parent")
        if not self.districts:
            raise ValueError("the label space has no district")
        for name, parents, size in (("city", self.city_parent, len(self.provinces)),
                                    ("district", self.district_parent, len(self.cities))):
            if any(not 0 <= p < size for p in parents):
                raise ValueError(f"a {name} parent points outside the level above")
        # every province has a city and every city a district: the joint sums to one
        if set(self.city_parent) != set(range(len(self.provinces))) or \
                set(self.district_parent) != set(range(len(self.cities))):
            raise ValueError("every province needs a city and every city a district")
        return self

    @classmethod
    def from_districts(cls, adcodes: Iterable[str], index: RegionIndex) -> LabelSpace:
        """The smallest space holding these districts and their cities and provinces (sorted
        by adcode, so the same districts always give the same space)."""
        codes = sorted(set(adcodes))
        found = {a: index.get(a, Level.DISTRICT) for a in codes}
        missing = [a for a, d in found.items() if d is None]
        if missing:
            raise ValueError(f"unknown district adcodes: {', '.join(missing[:5])}")
        districts = [d for d in found.values() if d is not None]  # all of them, in adcode order
        cities = sorted({_city_adcode(d) for d in districts})
        provinces = sorted({index.require(c, Level.CITY).province_adcode for c in cities})
        city_pos = {c: i for i, c in enumerate(cities)}
        province_pos = {p: i for i, p in enumerate(provinces)}
        return cls(
            provinces=provinces, cities=cities,
            city_parent=[province_pos[index.require(c, Level.CITY).province_adcode] for c in cities],
            districts=[d.adcode for d in districts],
            district_parent=[city_pos[_city_adcode(d)] for d in districts])

    @classmethod
    def full(cls, index: RegionIndex) -> LabelSpace:
        """Every district of the installed index (what a zero-shot prior covers)."""
        return cls.from_districts((d.adcode for d in index.districts), index)

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.provinces), len(self.cities), len(self.districts)

    def district_province(self) -> np.ndarray:
        """For each district, its province's position."""
        return np.asarray(self.city_parent)[np.asarray(self.district_parent)]

    def encode(self, district_adcode: str | None) -> tuple[int, int, int] | None:
        """(province, city, district) positions of a true district; None outside the space."""
        position = self._district_position().get(district_adcode or "")
        if position is None:
            return None
        city = self.district_parent[position]
        return self.city_parent[city], city, position

    def _district_position(self) -> dict[str, int]:
        cached = self.__dict__.get("_positions")
        if cached is None:
            cached = {a: i for i, a in enumerate(self.districts)}
            self.__dict__["_positions"] = cached
        return cached

    def regions(self, index: RegionIndex) -> tuple[list[Region], list[Region], list[Region]]:
        """The space's regions in the installed index (raises when one is unknown)."""
        self.check(index)
        return ([index.require(a, Level.PROVINCE) for a in self.provinces],
                [index.require(a, Level.CITY) for a in self.cities],
                [index.require(a, Level.DISTRICT) for a in self.districts])

    def check(self, index: RegionIndex) -> None:
        unknown = [f"{lvl.value} {a}" for lvl, codes in (
            (Level.PROVINCE, self.provinces), (Level.CITY, self.cities),
            (Level.DISTRICT, self.districts)) for a in codes if index.get(a, lvl) is None]
        if unknown:
            raise ValueError(f"the checkpoint names regions the installed region data does not "
                             f"know ({', '.join(unknown[:5])}{'…' if len(unknown) > 5 else ''}); "
                             "retrain it, or install the region data it was trained with")

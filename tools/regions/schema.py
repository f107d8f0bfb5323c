"""Typed records of the administrative hierarchy."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pydantic import BaseModel, Field


class Level(str, Enum):
    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"


@dataclass(frozen=True, slots=True)
class Region:
    """One administrative unit. ``(level, adcode)`` identifies it: a few units reuse one code
    at several levels (香港 810000 is a province and a city; 东莞 441900 is a city and its own
    district; 台湾 710000 is all three)."""

    level: Level
    adcode: str
    name: str
    short: str
    province_adcode: str
    city_adcode: str | None
    lon: float  # WGS-84 centroid (or an interior point where the centroid falls outside)
    lat: float
    area_km2: float
    kind: str = "regular"  # regular | municipality | sar | taiwan | city_without_districts

    @property
    def key(self) -> tuple[str, str]:
        return (self.level.value, self.adcode)


class AdminPath(BaseModel):
    """Province ⊃ city ⊃ district of a point or a claim, names and adcodes."""

    province: str | None = None
    province_adcode: str | None = None
    city: str | None = None
    city_adcode: str | None = None
    district: str | None = None
    district_adcode: str | None = None


class RegionInfo(BaseModel):
    """A region as it crosses a boundary (tool result, output)."""

    level: Level
    adcode: str
    name: str
    province: str
    city: str | None = None
    lat: float = Field(description="WGS-84 latitude of the region's centre")
    lon: float = Field(description="WGS-84 longitude of the region's centre")
    area_km2: float

"""A place a geocoder returned, converted to WGS-84 at the adapter and placed in the offline
region index; outside the current hypothesis it is flagged, not dropped."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sinoloc.tools.crs import CRS, to_wgs84
from sinoloc.tools.regions import get_region_index


class Place(BaseModel):
    provider: str
    name: str
    address: str = ""
    lat: float = Field(ge=-90, le=90, description="WGS-84")
    lon: float = Field(ge=-180, le=180, description="WGS-84")
    raw_lat: float
    raw_lon: float
    raw_crs: str = Field(description="the provider's coordinate system: GCJ-02, BD-09, WGS-84")
    provider_adcode: str | None = None
    admin: str | None = Field(default=None, description="province/city/district by the region "
                              "index (authoritative; the provider's own labels may differ)")
    district_adcode: str | None = None
    outside_hypothesis: bool = False


def within_region(within: str | None):
    """The region a ``within`` name (or adcode) denotes, if the index knows it."""
    if not within:
        return None
    index = get_region_index()
    found = index.get(within) if within.isdigit() else None
    if found is None:
        matches = index.lookup(within)
        found = matches[0] if matches else None
    return found


def make_place(provider: str, name: str, raw_lon: float, raw_lat: float, crs: str, *,
               address: str = "", provider_adcode: str | None = None,
               within: str | None = None) -> Place:
    lon, lat = to_wgs84(raw_lon, raw_lat, crs)
    index = get_region_index()
    district = index.reverse(lon, lat)
    hypothesis = within_region(within)
    outside = bool(hypothesis and (district is None or not index.is_within(district, hypothesis)))
    return Place(provider=provider, name=name, address=address, lat=round(float(lat), 7),
                 lon=round(float(lon), 7), raw_lat=raw_lat, raw_lon=raw_lon, raw_crs=CRS(crs).value,
                 provider_adcode=provider_adcode,
                 admin=index.label(district) if district else None,
                 district_adcode=district.adcode if district else None, outside_hypothesis=outside)

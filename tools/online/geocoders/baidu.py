"""Baidu Maps (百度地图) place search v2 and reverse geocoding v3. Coordinates are BD-09."""

from __future__ import annotations

from sinoloc.tools.crs import CRS
from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.geocoders.base import KeyedGeocoder
from sinoloc.tools.online.places import Place, make_place

SEARCH = "https://api.map.baidu.com/place/v2/search"
REVERSE = "https://api.map.baidu.com/reverse_geocoding/v3/"
QUOTA_STATUSES = {4, 301, 302, 401, 402}


class Baidu(KeyedGeocoder):
    name = "baidu"
    key_env = "BAIDU_MAP_AK"
    interval_s = 1 / 3

    def validate(self, data) -> None:
        status = self.int_status(data)
        if status != 0:
            message = data.get("message") or data.get("msg") or ""
            kind = (FailureKind.QUOTA if status in QUOTA_STATUSES else
                    FailureKind.AUTH if status in (3, 5, 101, 102) or 200 <= status < 300 else
                    FailureKind.PROVIDER_ERROR)
            raise ProviderFailure(self.name, kind, f"status {status} {message}")

    def geocode(self, client: OnlineClient, query: str, within: str | None) -> list[Place]:
        params = {"query": query, "region": within or "全国",
                  "city_limit": "true" if within else None, "page_size": 5, "output": "json",
                  "ak": self.key}
        data = client.get_json(self.name, SEARCH, params, self.validate, self.interval_s)
        places = []
        for result in data.get("results") or []:
            location = result.get("location")
            if not location:  # a city-level suggestion without a point
                continue
            try:
                lon, lat = float(location["lng"]), float(location["lat"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ProviderFailure(self.name, FailureKind.MALFORMED,
                                      f"bad location {location!r}") from exc
            address = "".join(result.get(k) or "" for k in ("province", "city", "area")) \
                + (result.get("address") or "")
            places.append(make_place(self.name, result.get("name") or "", lon, lat, CRS.BD09,
                                     address=address, within=within))
        return places

    def reverse(self, client: OnlineClient, lat: float, lon: float) -> str | None:
        params = {"location": f"{lat:.6f},{lon:.6f}", "coordtype": "wgs84ll", "output": "json",
                  "ak": self.key}
        data = client.get_json(self.name, REVERSE, params, self.validate, self.interval_s)
        return (data.get("result") or {}).get("formatted_address") or None

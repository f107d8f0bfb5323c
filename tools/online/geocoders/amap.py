"""Amap (高德) web service: place text search and reverse geocoding. Coordinates are GCJ-02."""

from __future__ import annotations

from sinoloc.tools.crs import CRS, from_wgs84
from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.geocoders.base import KeyedGeocoder
from sinoloc.tools.online.places import Place, make_place

SEARCH = "https://restapi.amap.com/v3/place/text"
GEO = "https://restapi.amap.com/v3/geocode/geo"
REGEO = "https://restapi.amap.com/v3/geocode/regeo"
AUTH_CODES = {"10001", "10002", "10005", "10006", "10007", "10008", "10009", "10010", "10011",
              "10012", "10013"}
QUOTA_CODES = {"10003", "10004", "10014", "10015", "10019", "10020", "10021", "10044", "10045"}


def amap_text(value) -> str:
    return value if isinstance(value, str) else ""  # Amap sends [] for a missing field


class Amap(KeyedGeocoder):
    name = "amap"
    key_env = "AMAP_KEY"
    interval_s = 1 / 3  # the free tier allows 3 queries per second

    def validate(self, data) -> None:
        if self.status(data) != "1":
            code, info = str(data.get("infocode", "")), data.get("info", "")
            kind = (FailureKind.AUTH if code in AUTH_CODES else
                    FailureKind.QUOTA if code in QUOTA_CODES else FailureKind.PROVIDER_ERROR)
            raise ProviderFailure(self.name, kind, f"infocode {code} {info}")

    def geocode(self, client: OnlineClient, query: str, within: str | None) -> list[Place]:
        """Place text search (shops, landmarks, roads); when it finds nothing, the address
        geocoder (``文三路138号`` → the doorplate's point)."""
        return self._search(client, query, within) or self._address(client, query, within)

    def _point(self, location) -> tuple[float, float]:
        try:
            lon, lat = (float(x) for x in location.split(","))
        except (ValueError, AttributeError) as exc:
            raise ProviderFailure(self.name, FailureKind.MALFORMED,
                                  f"bad location {location!r}") from exc
        return lon, lat

    def _address(self, client: OnlineClient, query: str, within: str | None) -> list[Place]:
        params = {"address": query, "city": within, "output": "JSON", "key": self.key}
        data = client.get_json(self.name, GEO, params, self.validate, self.interval_s)
        places = []
        for item in data.get("geocodes") or []:
            lon, lat = self._point(item.get("location"))
            places.append(make_place(self.name, amap_text(item.get("formatted_address")), lon, lat,
                                     CRS.GCJ02, address=amap_text(item.get("formatted_address")),
                                     provider_adcode=amap_text(item.get("adcode")), within=within))
        return places

    def _search(self, client: OnlineClient, query: str, within: str | None) -> list[Place]:
        params = {"keywords": query, "city": within, "citylimit": "true" if within else None,
                  "offset": 5, "page": 1, "extensions": "base", "output": "JSON", "key": self.key}
        data = client.get_json(self.name, SEARCH, params, self.validate, self.interval_s)
        places = []
        for poi in data.get("pois") or []:
            lon, lat = self._point(poi.get("location"))
            address = "".join(amap_text(poi.get(k)) for k in ("pname", "cityname", "adname")) \
                + amap_text(poi.get("address"))
            places.append(make_place(self.name, amap_text(poi.get("name")), lon, lat, CRS.GCJ02,
                                     address=address, provider_adcode=amap_text(poi.get("adcode")),
                                     within=within))
        return places

    def reverse(self, client: OnlineClient, lat: float, lon: float) -> str | None:
        glon, glat = from_wgs84(lon, lat, CRS.GCJ02)  # the service reads GCJ-02
        params = {"location": f"{glon:.6f},{glat:.6f}", "output": "JSON", "key": self.key}
        data = client.get_json(self.name, REGEO, params, self.validate, self.interval_s)
        return amap_text((data.get("regeocode") or {}).get("formatted_address")) or None

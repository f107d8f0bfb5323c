"""OpenStreetMap Nominatim through geopy: WGS-84, a real User-Agent, at most one request per
second (the usage policy), shared across threads and processes by the store's slots."""

from __future__ import annotations

from sinoloc.tools.crs import CRS
from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.places import Place, make_place

ENDPOINT = "https://nominatim.openstreetmap.org"


def _classified(exc: Exception) -> ProviderFailure:
    from geopy import exc as geo

    kind = (FailureKind.TIMEOUT if isinstance(exc, geo.GeocoderTimedOut) else
            FailureKind.QUOTA if isinstance(exc, geo.GeocoderQuotaExceeded | geo.GeocoderRateLimited)
            else FailureKind.AUTH if isinstance(exc, geo.GeocoderAuthenticationFailure
                                                | geo.GeocoderInsufficientPrivileges)
            else FailureKind.NETWORK if isinstance(exc, geo.GeocoderUnavailable)
            else FailureKind.MALFORMED if isinstance(exc, geo.GeocoderParseError)
            else FailureKind.HTTP)
    return ProviderFailure("nominatim", kind, f"{exc.__class__.__name__}: {exc}")


class Nominatim:
    name = "nominatim"
    interval_s = 1.0

    def __init__(self, user_agent: str, timeout_s: float = 10.0):
        from geopy.geocoders import Nominatim as GeopyNominatim

        self.geocoder = GeopyNominatim(user_agent=user_agent, timeout=timeout_s)

    def _run(self, fetch):
        from geopy import exc as geo

        try:
            return fetch()
        except geo.GeopyError as exc:
            raise _classified(exc) from exc

    def validate(self, data) -> None:
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise ProviderFailure(self.name, FailureKind.MALFORMED, "not a list of places")

    def geocode(self, client: OnlineClient, query: str, within: str | None) -> list[Place]:
        text = f"{query}, {within}" if within else query

        def fetch():
            found = self._run(lambda: self.geocoder.geocode(
                text, exactly_one=False, limit=5, country_codes="cn", language="zh"))
            return [location.raw for location in found or []]

        params = {"q": text, "countrycodes": "cn", "limit": 5}
        raw = client.call(self.name, f"{ENDPOINT}/search", params, fetch, self.validate,
                          self.interval_s)
        places = []
        for item in raw:
            try:
                lon, lat = float(item["lon"]), float(item["lat"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ProviderFailure(self.name, FailureKind.MALFORMED,
                                      f"bad place {item!r:.80}") from exc
            name = item.get("name") or item.get("display_name", "").split(",")[0]
            places.append(make_place(self.name, name, lon, lat, CRS.WGS84,
                                     address=item.get("display_name", ""), within=within))
        return places

    def reverse(self, client: OnlineClient, lat: float, lon: float) -> str | None:
        def fetch():
            found = self._run(lambda: self.geocoder.reverse((lat, lon), language="zh"))
            return [found.raw] if found else []

        params = {"lat": round(lat, 6), "lon": round(lon, 6)}
        raw = client.call(self.name, f"{ENDPOINT}/reverse", params, fetch, self.validate,
                          self.interval_s)
        return raw[0].get("display_name") if raw else None

"""Static map images around a point, for a model to look at (the ``map_view`` tool): a road map
and a satellite view from the providers' documented static-map APIs, with a marker on the point.

- **Tencent** static map v2 (``apis.map.qq.com/ws/staticmap/v2``): ``roadmap`` and
  ``satellite``, zoom 4–18 (18 for the road map only), ``center`` and markers as ``lat,lng`` in
  GCJ-02.
- **Amap** static map v3 (``restapi.amap.com/v3/staticmap``): a road map, zoom 1–17,
  ``location`` and markers as ``lng,lat`` in GCJ-02.
- **Tianditu** WMTS tiles, stitched and marked by :mod:`sinoloc.tools.online.tianditu`: road and
  satellite, zoom 1–18, in CGCS2000 (= WGS-84 to centimetres: no shift).

Points come in WGS-84 and are converted here, at the adapter, so the drawn marker sits on the
WGS-84 point. Each image goes through the one online path (:class:`OnlineClient`: offline check,
cache, rate limit, failure classification, the outbound trace with keys redacted). A provider
answers an image on success and its usual JSON error body otherwise (the same codes as its web
service: keys, quotas)."""

from __future__ import annotations

import base64
import io
from typing import Literal, Protocol

from pydantic import BaseModel

from sinoloc.tools.crs import CRS, from_wgs84
from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.tianditu import TiandituTiles

View = Literal["road", "satellite"]
SIZE = (640, 400)  # pixels: wide enough for a street grid, small enough for a model's budget


class MapImage(BaseModel):
    """One image: what it shows, where, and the bytes (base64) as the provider sent them."""

    provider: str
    view: View
    lat: float  # WGS-84 centre and marker
    lon: float
    zoom: int
    mime_type: str
    base64: str

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.base64)


class StaticMapProvider(Protocol):
    name: str
    views: frozenset[str]
    interval_s: float

    def zoom_range(self, view: View) -> tuple[int, int]: ...

    def request(self, lat: float, lon: float, zoom: int, view: View) -> tuple[str, dict]: ...

    def validate(self, answer) -> None: ...


def _error_of(answer) -> dict | None:
    return answer.get("error") if isinstance(answer, dict) and "error" in answer else None


class TencentStaticMap:
    name = "tencent"
    views = frozenset({"road", "satellite"})
    interval_s = 1 / 5
    URL = "https://apis.map.qq.com/ws/staticmap/v2/"
    AUTH, QUOTA = {110, 111, 112, 113, 199, 311}, {120, 121, 122}

    def __init__(self, key: str):
        self.key = key

    def zoom_range(self, view: View) -> tuple[int, int]:
        return (4, 18) if view == "road" else (4, 17)

    def request(self, lat: float, lon: float, zoom: int, view: View) -> tuple[str, dict]:
        glon, glat = from_wgs84(lon, lat, CRS.GCJ02)
        point = f"{glat:.6f},{glon:.6f}"  # Tencent: latitude first
        return self.URL, {"center": point, "zoom": zoom, "size": f"{SIZE[0]}*{SIZE[1]}",
                          "maptype": "roadmap" if view == "road" else "satellite",
                          "markers": f"size:large|color:red|{point}", "key": self.key}

    def validate(self, answer) -> None:
        error = _error_of(answer)
        if error is None:
            return
        try:
            status = int(str(error.get("status")))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ProviderFailure(self.name, FailureKind.MALFORMED, "an error without a "
                                  "status") from exc
        kind = (FailureKind.AUTH if status in self.AUTH else FailureKind.QUOTA
                if status in self.QUOTA else FailureKind.PROVIDER_ERROR)
        raise ProviderFailure(self.name, kind, f"status {status} {error.get('message', '')}")


class AmapStaticMap:
    name = "amap"
    views = frozenset({"road"})
    interval_s = 1 / 3

    URL = "https://restapi.amap.com/v3/staticmap"

    def __init__(self, key: str):
        self.key = key

    def zoom_range(self, view: View) -> tuple[int, int]:
        return 1, 17

    def request(self, lat: float, lon: float, zoom: int, view: View) -> tuple[str, dict]:
        glon, glat = from_wgs84(lon, lat, CRS.GCJ02)
        point = f"{glon:.6f},{glat:.6f}"  # Amap: longitude first
        return self.URL, {"location": point, "zoom": zoom, "size": f"{SIZE[0]}*{SIZE[1]}",
                          "markers": f"mid,0xFF0000,A:{point}", "key": self.key}

    def validate(self, answer) -> None:
        from sinoloc.tools.online.geocoders.amap import AUTH_CODES, QUOTA_CODES

        error = _error_of(answer)
        if error is None:
            return
        if not isinstance(error, dict):
            raise ProviderFailure(self.name, FailureKind.MALFORMED, "an error without a status")
        code, info = str(error.get("infocode", "")), error.get("info", "")
        kind = (FailureKind.AUTH if code in AUTH_CODES else FailureKind.QUOTA
                if code in QUOTA_CODES else FailureKind.PROVIDER_ERROR)
        raise ProviderFailure(self.name, kind, f"infocode {code} {info}")


PROVIDERS: dict[str, type[TencentStaticMap] | type[AmapStaticMap] | type[TiandituTiles]] = {
    "tencent": TencentStaticMap, "amap": AmapStaticMap, "tianditu": TiandituTiles}


MapProvider = StaticMapProvider | TiandituTiles


def build_static_maps(names: list[str], key_of) -> tuple[list[MapProvider],
                                                          list[ProviderFailure]]:
    """The configured providers that have a key, and why the others cannot be used."""
    built: list[MapProvider] = []
    missing: list[ProviderFailure] = []
    for name in names:
        key = key_of(name)
        if not key:
            missing.append(ProviderFailure(name, FailureKind.NOT_CONFIGURED, "no key"))
            continue
        provider: MapProvider = PROVIDERS[name](key)
        built.append(provider)
    return built, missing


def fetch_view(client: OnlineClient, provider: MapProvider, lat: float, lon: float,
               zoom: int, view: View) -> MapImage:
    """One view from one provider (its zoom bounds applied); raises ProviderFailure."""
    low, high = provider.zoom_range(view)
    zoom = min(max(zoom, low), high)
    if isinstance(provider, TiandituTiles):  # tiles, stitched by the adapter
        mime_type, data = provider.fetch(client, lat, lon, zoom, view, SIZE)
        return MapImage(provider=provider.name, view=view, lat=lat, lon=lon, zoom=zoom,
                        mime_type=mime_type, base64=base64.b64encode(data).decode())
    url, params = provider.request(lat, lon, zoom, view)

    def validate(answer) -> None:  # only a valid image is cached
        provider.validate(answer)
        _check_image(provider.name, base64.b64decode(answer["base64"]))

    answer = client.get_image(provider.name, url, params, validate, provider.interval_s)
    return MapImage(provider=provider.name, view=view, lat=lat, lon=lon, zoom=zoom,
                    mime_type=answer["mime_type"], base64=answer["base64"])


def _check_image(provider: str, data: bytes) -> None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ProviderFailure(provider, FailureKind.MALFORMED, "the image does not decode") \
            from exc

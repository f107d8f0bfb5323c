"""Tianditu (天地图, the national surveying bureau's map service) as a ``map_view`` provider: a road
map and a satellite view stitched from its WMTS tiles around a WGS-84 point, with a marker on it.

Tianditu has no static-map endpoint like Tencent's or Amap's; it serves the standard WMTS
tiles of the Web Mercator tile matrix set ``w``
(``https://t{0-7}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&
LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}
&tk=KEY``; 256-pixel tiles numbered like the common XYZ scheme). A view is its base layer with
the matching annotation layer over it: ``vec`` + ``cva`` (road), ``img`` + ``cia`` (satellite).

Its coordinates are CGCS2000, which agrees with WGS-84 to a few centimetres: unlike the GCJ-02
providers nothing is shifted here, the marker sits on the WGS-84 point as given. Every tile goes
through the one online path (:class:`OnlineClient`: offline check, cache, rate limit, failure
classification, the outbound trace with the ``tk`` key redacted), so a view is as many queries
in the trace as it has tiles (at most 24 for 640 × 400 pixels), and a view whose tiles take
longer than :data:`VIEW_DEADLINE_S` in all is given up. Tianditu's error answers could
not be recorded from here (no internet): an HTTP 401/403 is a rejected key, a JSON body instead
of a tile is a provider error naming its message, anything else that is not an image is
malformed.
"""

from __future__ import annotations

import base64
import io
import math
import time
from collections.abc import Callable

from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.failures import FailureKind, ProviderFailure

TILE = 256
VIEW_DEADLINE_S = 30.0  # a whole view (up to 24 tiles): past it, the view is given up
LAYERS = {"road": ("vec", "cva"), "satellite": ("img", "cia")}
MAX_LAT = 85.05112878  # the Web Mercator square's edge


def pixel_of(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """The point's position in the zoom level's pixel grid (Web Mercator, 256-pixel tiles,
    origin at the north-west corner)."""
    scale = TILE * 2 ** zoom
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    phi = math.radians(lat)
    x = (lon + 180.0) / 360.0 * scale
    y = (1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0 * scale
    return x, y


def tiles_for(lat: float, lon: float, zoom: int, size: tuple[int, int]
              ) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """The tiles ``(col, row)`` that cover a ``size`` window centred on the point, and the
    window's top-left corner in the zoom level's pixel grid (columns wrap at the antimeridian;
    rows outside the square are left out)."""
    x, y = pixel_of(lat, lon, zoom)
    left, top = round(x - size[0] / 2), round(y - size[1] / 2)
    count = 2 ** zoom
    cols = range(left // TILE, (left + size[0] - 1) // TILE + 1)
    rows = range(max(top // TILE, 0), min((top + size[1] - 1) // TILE, count - 1) + 1)
    return [(col, row) for row in rows for col in cols], (left, top)


class TiandituTiles:
    """The ``map_view`` provider (see the module): :meth:`fetch` draws one view."""

    name = "tianditu"
    views = frozenset({"road", "satellite"})
    interval_s = 1 / 20  # tiles: many small requests per view
    HOST = "https://t{n}.tianditu.gov.cn/{layer}_w/wmts"

    def __init__(self, key: str, *, view_deadline_s: float = VIEW_DEADLINE_S,
                 clock: Callable[[], float] = time.monotonic):
        self.key, self.view_deadline_s, self._clock = key, view_deadline_s, clock

    def zoom_range(self, view) -> tuple[int, int]:
        return 1, 18

    def tile_request(self, layer: str, zoom: int, col: int, row: int) -> tuple[str, dict]:
        col %= 2 ** zoom
        return self.HOST.format(n=(col + row) % 8, layer=layer), {
            "SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": layer,
            "STYLE": "default", "TILEMATRIXSET": "w", "FORMAT": "tiles", "TILEMATRIX": zoom,
            "TILEROW": row, "TILECOL": col, "tk": self.key}

    def validate(self, answer) -> None:
        error = answer.get("error") if isinstance(answer, dict) else None
        if error is None:
            return
        message = error.get("msg") or error.get("message") if isinstance(error, dict) else None
        raise ProviderFailure(self.name, FailureKind.PROVIDER_ERROR,
                              f"a JSON answer instead of a tile: {message or str(error)[:80]}")

    def fetch(self, client: OnlineClient, lat: float, lon: float, zoom: int, view,
              size: tuple[int, int]) -> tuple[str, bytes]:
        """The view as a PNG (``("image/png", bytes)``): its tiles stitched, cropped to ``size``
        around the point, the marker drawn on it; raises ProviderFailure."""
        from PIL import Image

        tiles, (left, top) = tiles_for(lat, lon, zoom, size)
        canvas = Image.new("RGB", size, (255, 255, 255))
        deadline = self._clock() + self.view_deadline_s
        for layer in LAYERS[view]:
            for col, row in tiles:
                if self._clock() > deadline:  # each tile is bounded by the client's timeout
                    raise ProviderFailure(self.name, FailureKind.TIMEOUT, "the view's tiles took "
                                          f"longer than {self.view_deadline_s:g} s")
                tile = self._tile(client, layer, zoom, col, row)
                at = (col * TILE - left, row * TILE - top)
                canvas.paste(tile, at, tile if tile.mode == "RGBA" else None)
        _marker(canvas, (size[0] / 2, size[1] / 2))
        out = io.BytesIO()
        canvas.save(out, format="PNG")
        return "image/png", out.getvalue()

    def _tile(self, client: OnlineClient, layer: str, zoom: int, col: int, row: int):
        url, params = self.tile_request(layer, zoom, col, row)

        def validate(answer) -> None:  # only a tile that decodes is cached
            self.validate(answer)
            _decode(self.name, base64.b64decode(answer["base64"]))

        answer = client.get_image(self.name, url, params, validate, self.interval_s)
        tile = _decode(self.name, base64.b64decode(answer["base64"]))
        return tile.convert("RGBA") if tile.mode in ("RGBA", "LA", "P") else tile.convert("RGB")


def _decode(provider: str, data: bytes):
    """A tile, its size checked from its header before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        tile = Image.open(io.BytesIO(data))
        if tile.size != (TILE, TILE):
            raise ProviderFailure(provider, FailureKind.MALFORMED, f"a tile of {tile.size[0]} × "
                                  f"{tile.size[1]} pixels, not {TILE} × {TILE}")
        tile.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ProviderFailure(provider, FailureKind.MALFORMED, "a tile does not decode") from exc
    return tile


def _marker(canvas, at: tuple[float, float]) -> None:
    """A red pin whose tip is the point (like the static-map providers' markers)."""
    from PIL import ImageDraw

    x, y = at
    draw = ImageDraw.Draw(canvas)
    draw.polygon([(x, y), (x - 7, y - 16), (x + 7, y - 16)], fill=(220, 20, 20),
                 outline=(120, 0, 0))
    draw.ellipse([x - 9, y - 27, x + 9, y - 9], fill=(220, 20, 20), outline=(120, 0, 0))
    draw.ellipse([x - 3, y - 21, x + 3, y - 15], fill=(255, 255, 255))

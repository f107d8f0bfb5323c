"""The Tianditu map-view adapter against WMTS tiles served by respx (no network): the documented
tile URL and parameters, the tile grid of the Web Mercator matrix set ``w`` (known tile numbers),
the stitched view with the marker on the WGS-84 point (no GCJ-02 shift: Tianditu is CGCS2000),
the key redacted, failures typed like the other adapters, tiles cached."""

import io
import json
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import respx
from PIL import Image
from socket_guard import SocketGuard

from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.config import OnlineConfig, load_config
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.staticmap import SIZE, build_static_maps, fetch_view
from sinoloc.tools.online.store import OnlineStore
from sinoloc.tools.online.tianditu import TILE, TiandituTiles, pixel_of, tiles_for

KEY = "test-tianditu-key-0123456789"
TILES = r"https://t[0-7]\.tianditu\.gov\.cn/(vec|cva|img|cia)_w/wmts.*"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    return SocketGuard(monkeypatch)


@pytest.fixture
def client(tmp_path):
    return OnlineClient(OnlineConfig(keys={}), OnlineStore(tmp_path / "online.sqlite"))


def query(request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(str(request.url)).query).items()}


def _png_of_size(width: int, height: int) -> bytes:
    """A PNG that is no tile: its header says ``width`` × ``height``."""
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, format="PNG")
    return out.getvalue()


def tile_colour(col: int, row: int) -> tuple[int, int, int]:
    return (col * 37 % 251, row * 53 % 251, 90)


def serve_tiles(request) -> httpx.Response:
    """A base tile coloured by its column and row; an annotation tile transparent but for a
    one-pixel dot at its top-left corner."""
    q = query(request)
    col, row = int(q["TILECOL"]), int(q["TILEROW"])
    if q["LAYER"] in ("cva", "cia"):
        tile = Image.new("RGBA", (TILE, TILE), (0, 0, 0, 0))
        tile.putpixel((0, 0), (0, 0, 0, 255))
        kind = "image/png"
    else:
        tile = Image.new("RGB", (TILE, TILE), tile_colour(col, row))
        kind = "image/jpeg" if q["LAYER"] == "img" else "image/png"
    out = io.BytesIO()
    tile.save(out, format="JPEG" if kind == "image/jpeg" else "PNG", quality=100)
    return httpx.Response(200, content=out.getvalue(), headers={"content-type": kind})


@pytest.mark.parametrize(("lat", "lon", "zoom", "tile"), [
    # worked by hand: x = (lon + 180) / 360 · 2^z, y = (1 − asinh(tan φ) / π) / 2 · 2^z
    (52.52, 13.405, 10, (550, 335)), (0.0, 0.0, 1, (1, 1)), (85.0, -180.0, 3, (0, 0)),
    (-33.86, 151.21, 4, (14, 9)), (30.2776, 120.138, 1, (1, 0)),
])
def test_the_tile_grid_of_the_web_mercator_matrix_set(lat, lon, zoom, tile):
    x, y = pixel_of(lat, lon, zoom)
    assert (int(x // TILE), int(y // TILE)) == tile


def test_the_window_is_covered_by_whole_tiles_around_the_point():
    tiles, (left, top) = tiles_for(30.2776, 120.138, 15, SIZE)
    x, y = pixel_of(30.2776, 120.138, 15)
    assert abs(left + SIZE[0] / 2 - x) <= 0.5 and abs(top + SIZE[1] / 2 - y) <= 0.5
    cols = sorted({c for c, _ in tiles})
    rows = sorted({r for _, r in tiles})
    assert cols[0] * TILE <= left and (cols[-1] + 1) * TILE >= left + SIZE[0]
    assert rows[0] * TILE <= top and (rows[-1] + 1) * TILE >= top + SIZE[1]
    assert len(tiles) == len(cols) * len(rows) <= 12


@pytest.mark.parametrize(("view", "layers"), [("road", {"vec", "cva"}),
                                              ("satellite", {"img", "cia"})])
def test_a_view_is_its_base_and_annotation_tiles_stitched_with_the_marker_on_the_point(
        client, view, layers):
    lat, lon, zoom = 30.2776, 120.138, 15
    with respx.mock() as mock:
        route = mock.get(url__regex=TILES).mock(side_effect=serve_tiles)
        image = fetch_view(client, TiandituTiles(KEY), lat, lon, zoom, view)
    sent = [query(call.request) for call in route.calls]
    assert {q["LAYER"] for q in sent} == layers
    for q, call in zip(sent, route.calls, strict=True):
        assert (q["SERVICE"], q["REQUEST"], q["VERSION"], q["STYLE"], q["TILEMATRIXSET"],
                q["FORMAT"], q["TILEMATRIX"], q["tk"]) == (
            "WMTS", "GetTile", "1.0.0", "default", "w", "tiles", "15", KEY)
        assert call.request.url.path == f"/{q['LAYER']}_w/wmts"
    tiles, (left, top) = tiles_for(lat, lon, zoom, SIZE)
    assert len(sent) == 2 * len(tiles)
    picture = Image.open(io.BytesIO(image.data)).convert("RGB")
    assert picture.size == SIZE and image.mime_type == "image/png"
    # the marker's tip is the point: red just above the centre, and the pixels far from it
    # are the base tile under them (no shift of the point)
    r, g, b = picture.getpixel((SIZE[0] // 2, SIZE[1] // 2 - 12))
    assert r > 200 and g < 60 and b < 60
    for px, py in ((5, 5), (SIZE[0] - 6, SIZE[1] - 6), (40, SIZE[1] - 30)):
        col, row = (left + px) // TILE, (top + py) // TILE
        assert picture.getpixel((px, py)) == pytest.approx(tile_colour(col, row), abs=3)
    # the annotation layer lies over the base: its dot at every tile corner inside the window
    corners = [(col * TILE - left, row * TILE - top) for col, row in tiles]
    inside = [c for c in corners if 0 <= c[0] < SIZE[0] and 0 <= c[1] < SIZE[1]]
    assert inside and all(picture.getpixel(c) == (0, 0, 0) for c in inside)


def test_tiles_are_cached_and_the_key_is_redacted_in_the_trace(client):
    with respx.mock() as mock:
        route = mock.get(url__regex=TILES).mock(side_effect=serve_tiles)
        first = fetch_view(client, TiandituTiles(KEY), 30.2776, 120.138, 15, "road")
        calls = route.call_count
        again = fetch_view(client, TiandituTiles(KEY), 30.2776, 120.138, 15, "road")
    assert route.call_count == calls and again.data == first.data
    trace = client.take_trace()
    assert len(trace) == 2 * calls and all(q.params["tk"] == "***" for q in trace)
    assert [q.cached for q in trace] == [False] * calls + [True] * calls
    assert KEY not in json.dumps([q.model_dump() for q in trace])


@pytest.mark.parametrize(("response", "kind"), [
    (httpx.Response(403), FailureKind.AUTH), (httpx.Response(429), FailureKind.QUOTA),
    (httpx.Response(200, json={"msg": "权限类型错误", "code": 1}), FailureKind.PROVIDER_ERROR),
    (httpx.Response(200, content=b"<ows:ExceptionReport/>", headers={"content-type": "text/xml"}),
     FailureKind.MALFORMED),
    (httpx.Response(200, content=b"not a tile", headers={"content-type": "image/png"}),
     FailureKind.MALFORMED),
    (httpx.Response(200, content=_png_of_size(4096, 4096), headers={"content-type": "image/png"}),
     FailureKind.MALFORMED)])
def test_failures_are_typed_and_not_cached(client, response, kind):
    with respx.mock() as mock:
        route = mock.get(url__regex=TILES).mock(return_value=response)
        for _ in range(2):
            with pytest.raises(ProviderFailure) as failure:
                fetch_view(client, TiandituTiles(KEY), 30.2776, 120.138, 15, "satellite")
            assert failure.value.kind is kind and failure.value.provider == "tianditu"
    assert route.call_count == 2  # the first tile fails each time: nothing was cached


def test_a_view_whose_tiles_take_too_long_is_given_up(client):
    """Each tile is bounded by the client's timeout; the view as a whole by its deadline."""
    now = [0.0]

    def slow_tiles(request):
        now[0] += 4.0  # each tile answers 4 s later (on the provider's clock)
        return serve_tiles(request)

    provider = TiandituTiles(KEY, view_deadline_s=10, clock=lambda: now[0])
    with respx.mock() as mock:
        route = mock.get(url__regex=TILES).mock(side_effect=slow_tiles)
        with pytest.raises(ProviderFailure) as failure:
            fetch_view(client, provider, 30.2776, 120.138, 15, "road")
    assert failure.value.kind is FailureKind.TIMEOUT and "longer than 10 s" in str(failure.value)
    assert route.call_count == 3  # the fourth tile is not asked for


def test_a_tianditu_key_adds_it_to_the_map_providers(monkeypatch, tmp_path):
    monkeypatch.setenv("SINOLOC_CONFIG", str(tmp_path / "none.toml"))
    for name in ("TENCENT_MAP_KEY", "SINOLOC_TENCENT_KEY", "AMAP_KEY", "SINOLOC_AMAP_KEY",
                 "SINOLOC_TIANDITU_KEY", "SINOLOC_STATIC_MAPS", "SINOLOC_GEOCODERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIANDITU_KEY", KEY)
    config = load_config()
    assert config.static_maps == ["tianditu"] and config.geocoders == []
    providers, missing = build_static_maps(config.static_maps, config.key)
    assert [p.name for p in providers] == ["tianditu"] and missing == []
    assert providers[0].views == {"road", "satellite"}

"""The map-view tool's providers against recorded answers: the documented URL and parameters
of each (Tencent static map v2, Amap static map v3), the marker on the WGS-84 point after the
GCJ-02 conversion, keys never in the trace or the logs, every failure typed like the other
adapters, the cache and the rate-limit penalty; and when the tool is offered. No test touches
the network."""

import io
import json
import logging
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import respx
from online_data import metres, recorded
from PIL import Image
from socket_guard import SocketGuard

from sinoloc.agent.settings import LocateRequest
from sinoloc.agent.toolbox.context import ToolContext
from sinoloc.agent.toolbox.definitions import offered_tools
from sinoloc.agent.toolbox.mapview import MapViewArgs, map_view
from sinoloc.tools import crs
from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.config import OnlineConfig
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.staticmap import AmapStaticMap, TencentStaticMap, fetch_view
from sinoloc.tools.online.store import OnlineStore

KEY = "test-map-key-0123456789"
TENCENT = r"https://apis\.map\.qq\.com/ws/staticmap/v2/.*"
AMAP = r"https://restapi\.amap\.com/v3/staticmap.*"
# (wgs lon, wgs lat, gcj lon, gcj lat): published reference pairs (tests/unit/test_crs.py)
KNOWN = [(121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
         (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
         (116.377817, 39.911954, 116.38404722455657, 39.91334545536069)]


def png(color=(200, 190, 160), size=(64, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    return SocketGuard(monkeypatch)


@pytest.fixture
def client(tmp_path):
    return OnlineClient(OnlineConfig(keys={}), OnlineStore(tmp_path / "online.sqlite"))


def sent(route) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(str(route.calls.last.request.url)).query).items()}


@pytest.mark.parametrize("wlon,wlat,glon,glat", KNOWN)
def test_tencent_road_and_satellite_put_the_marker_on_the_wgs84_point(client, wlon, wlat, glon,
                                                                       glat):
    provider = TencentStaticMap(KEY)
    with respx.mock() as mock:
        route = mock.get(url__regex=TENCENT).mock(return_value=httpx.Response(
            200, content=png(), headers={"content-type": "image/png"}))
        for view, maptype in (("road", "roadmap"), ("satellite", "satellite")):
            image = fetch_view(client, provider, wlat, wlon, 16, view)
            params = sent(route)
            assert str(route.calls.last.request.url).startswith(TencentStaticMap.URL)
            assert params["maptype"] == maptype and params["zoom"] == "16"
            assert params["size"] == "640*400" and params["key"] == KEY
            lat, lon = (float(v) for v in params["center"].split(","))  # latitude first
            marker = params["markers"].split("|")[-1]
            assert marker == params["center"]
            assert (lon, lat) == pytest.approx((glon, glat), abs=1e-6)  # the published GCJ-02
            back = crs.gcj02_to_wgs84(lon, lat)
            assert metres(wlon, wlat, *back) < 5.0
            assert image.view == view and image.data == png()


@pytest.mark.parametrize("wlon,wlat,glon,glat", KNOWN)
def test_amap_road_map_marker_after_conversion(client, wlon, wlat, glon, glat):
    with respx.mock() as mock:
        route = mock.get(url__regex=AMAP).mock(return_value=httpx.Response(
            200, content=png(), headers={"content-type": "image/png"}))
        fetch_view(client, AmapStaticMap(KEY), wlat, wlon, 20, "road")
    params = sent(route)
    assert params["zoom"] == "17"  # Amap's static map stops at 17: the zoom is bounded
    lon, lat = (float(v) for v in params["location"].split(","))  # longitude first
    style, point = params["markers"].split(":")
    assert style == "mid,0xFF0000,A" and point == params["location"]
    assert (lon, lat) == pytest.approx((glon, glat), abs=1e-6)
    assert metres(wlon, wlat, *crs.gcj02_to_wgs84(lon, lat)) < 5.0


def test_the_key_is_redacted_in_the_trace_and_the_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    with respx.mock() as mock:
        mock.get(url__regex=TENCENT).mock(return_value=httpx.Response(
            200, content=png(), headers={"content-type": "image/png"}))
        client.http  # the logging filter is installed with the client  # noqa: B018
        logging.getLogger("httpx").info("HTTP Request: GET %s", f"{TencentStaticMap.URL}?key={KEY}")
        fetch_view(client, TencentStaticMap(KEY), 30.2776, 120.138, 15, "road")
    trace = client.take_trace()
    assert trace and trace[0].params["key"] == "***"
    assert KEY not in json.dumps([q.model_dump() for q in trace])
    assert KEY not in caplog.text


@pytest.mark.parametrize(("provider", "pattern", "body", "kind"), [
    (TencentStaticMap, TENCENT, "tencent_staticmap_quota", FailureKind.QUOTA),
    (TencentStaticMap, TENCENT, "tencent_staticmap_bad_key", FailureKind.AUTH),
    (AmapStaticMap, AMAP, "amap_staticmap_bad_key", FailureKind.AUTH),
    (AmapStaticMap, AMAP, "amap_staticmap_quota", FailureKind.QUOTA)])
def test_documented_error_bodies_are_typed_and_not_cached(client, provider, pattern, body, kind):
    with respx.mock() as mock:
        route = mock.get(url__regex=pattern).mock(return_value=httpx.Response(
            200, json=recorded(body)))
        for _ in range(2):
            with pytest.raises(ProviderFailure) as failure:
                fetch_view(client, provider(KEY), 30.2776, 120.138, 15, "road")
            assert failure.value.kind is kind
    assert route.call_count == 2  # a failure is never answered from the cache
    assert [q.status for q in client.take_trace()] == [kind.value] * 2


@pytest.mark.parametrize(("response", "kind"), [
    (httpx.Response(429), FailureKind.QUOTA), (httpx.Response(403), FailureKind.AUTH),
    (httpx.Response(502), FailureKind.HTTP),
    (httpx.Response(200, content=b"<html>oops</html>", headers={"content-type": "text/html"}),
     FailureKind.MALFORMED),
    (httpx.Response(200, content=b"not a png", headers={"content-type": "image/png"}),
     FailureKind.MALFORMED)])
def test_transport_failures_are_typed_like_the_other_adapters(client, response, kind):
    with respx.mock() as mock:
        mock.get(url__regex=TENCENT).mock(return_value=response)
        with pytest.raises(ProviderFailure) as failure:
            fetch_view(client, TencentStaticMap(KEY), 30.2776, 120.138, 15, "satellite")
    assert failure.value.kind is kind


def test_a_timeout_is_typed(client):
    with respx.mock() as mock:
        mock.get(url__regex=TENCENT).mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(ProviderFailure) as failure:
            fetch_view(client, TencentStaticMap(KEY), 30.2776, 120.138, 15, "road")
    assert failure.value.kind is FailureKind.TIMEOUT


def test_an_image_is_fetched_once_then_answered_from_the_cache(client):
    with respx.mock() as mock:
        route = mock.get(url__regex=TENCENT).mock(return_value=httpx.Response(
            200, content=png(), headers={"content-type": "image/png"}))
        first = fetch_view(client, TencentStaticMap(KEY), 30.2776, 120.138, 15, "road")
        again = fetch_view(client, TencentStaticMap(KEY), 30.2776, 120.138, 15, "road")
    assert route.call_count == 1 and first.data == again.data
    assert [q.cached for q in client.take_trace()] == [False, True]


@pytest.fixture
def online(monkeypatch, tmp_path):
    """An online configuration with no file, its cache in ``tmp_path``."""
    monkeypatch.setenv("SINOLOC_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SINOLOC_ONLINE_DB", str(tmp_path / "online.sqlite"))
    monkeypatch.setenv("SINOLOC_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("SINOLOC_OFFLINE", "AMAP_KEY", "SINOLOC_AMAP_KEY", "TENCENT_MAP_KEY",
                 "SINOLOC_TENCENT_KEY", "TIANDITU_KEY", "SINOLOC_TIANDITU_KEY",
                 "SINOLOC_STATIC_MAPS", "SINOLOC_GEOCODERS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_map_view_is_offered_only_online_with_a_key(online):
    request = LocateRequest(image_path="x.jpg")
    assert "map_view" in offered_tools(request).excluded  # no key
    online.setenv("TENCENT_MAP_KEY", KEY)
    assert "map_view" not in offered_tools(request).excluded
    assert "map_view" in offered_tools(request.model_copy(update={"offline": True})).excluded
    online.setenv("SINOLOC_OFFLINE", "1")
    assert "map_view" in offered_tools(request).excluded


def test_the_tool_returns_road_and_satellite_as_images_without_evidence(online):
    online.setenv("TENCENT_MAP_KEY", KEY)
    context = ToolContext(request=LocateRequest(image_path="x.jpg"))
    with respx.mock() as mock:
        mock.get(url__regex=TENCENT, params__contains={"maptype": "roadmap"}).mock(
            return_value=httpx.Response(200, content=png((230, 220, 200)),
                                        headers={"content-type": "image/png"}))
        mock.get(url__regex=TENCENT, params__contains={"maptype": "satellite"}).mock(
            return_value=httpx.Response(200, content=png((30, 90, 40)),
                                        headers={"content-type": "image/png"}))
        out = map_view(MapViewArgs(lat=30.2776, lon=120.138, zoom=16), context)
    assert out.status == "ok" and not out.evidence
    assert [i["caption"].split()[0] for i in out.images] == ["road", "satellite"]
    colours = [Image.open(i["path"]).convert("RGB").getpixel((5, 5)) for i in out.images]
    assert colours == [(230, 220, 200), (30, 90, 40)]
    assert [q.params["maptype"] for q in out.outbound] == ["roadmap", "satellite"]
    assert KEY not in out.model_dump_json()


def test_the_tool_says_why_it_cannot_run(online):
    context = ToolContext(request=LocateRequest(image_path="x.jpg", offline=True))
    out = map_view(MapViewArgs(lat=30.2776, lon=120.138), context)
    assert out.status == "unavailable" and "offline" in out.summary and not out.outbound
    online.setenv("TENCENT_MAP_KEY", KEY)
    with respx.mock() as mock:  # the provider's quota: said, not raised
        mock.get(url__regex=TENCENT).mock(return_value=httpx.Response(
            200, json=recorded("tencent_staticmap_quota")))
        out = map_view(MapViewArgs(lat=30.2776, lon=120.138, views=["satellite"]),
                       ToolContext(request=LocateRequest(image_path="x.jpg")))
    assert out.status == "unavailable" and "tencent: quota" in out.summary and not out.images

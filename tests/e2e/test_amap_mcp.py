"""The ``amap_mcp`` geocoder against a stand-in of Amap's MCP server (tests/support/
amap_mcp_server.py: the official server's tool names and answer shapes) over stdio, a
subprocess the adapter starts, and over Streamable HTTP on 127.0.0.1: a geocode and a reverse
in WGS-84 after the GCJ-02 conversion, the outbound trace (a key in the URL redacted, never in
the trace), the cache, typed failures, offline, and the chain built from the configuration."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import threading
from pathlib import Path

import pytest
from online_data import metres

from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.config import OnlineConfig, load_config
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.geocoders.amap_mcp import AmapMcp
from sinoloc.tools.online.services import OnlineServices
from sinoloc.tools.online.store import OnlineStore

pytest.importorskip("mcp")
pytestmark = [pytest.mark.loopback]
FAKE = Path(__file__).parents[1] / "support" / "amap_mcp_server.py"
COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE))}"
KEY = "test-amap-key-0123456789"
WGS = (121.5272106, 31.1774276)  # the published pair's WGS-84 side (lon, lat)


@pytest.fixture
def client(tmp_path):
    return OnlineClient(OnlineConfig(keys={}), OnlineStore(tmp_path / "online.sqlite"))


def test_stdio_geocode_answers_wgs84_and_is_traced_and_cached(client):
    geocoder = AmapMcp(KEY, COMMAND)
    places = geocoder.geocode(client, "上海市浦东新区", None)
    assert len(places) == 1
    place = places[0]
    assert place.provider == "amap_mcp" and place.raw_crs == "gcj02"
    assert metres(*WGS, place.lon, place.lat) < 5.0
    assert place.admin == "上海市浦东新区" and place.provider_adcode == "310115"
    again = geocoder.geocode(client, "上海市浦东新区", None)
    assert [p.model_dump() for p in again] == [p.model_dump() for p in places]
    trace = client.take_trace()
    assert [q.cached for q in trace] == [False, True]
    assert trace[0].endpoint == f"stdio:{COMMAND}#maps_geo"
    assert trace[0].params == {"address": "上海市浦东新区"} and trace[0].status == "ok"
    assert KEY not in json.dumps([q.model_dump() for q in trace])


def test_stdio_reverse_names_the_district(client):
    assert AmapMcp(KEY, COMMAND).reverse(client, WGS[1], WGS[0]) == "上海市浦东新区"


def test_nothing_found_is_an_empty_answer(client):
    assert AmapMcp(KEY, COMMAND).geocode(client, "无此地址", "上海市") == []
    assert client.take_trace()[0].params == {"address": "无此地址", "city": "上海市"}


@pytest.mark.parametrize(("key", "kind"), [("bad-key-0123456789", FailureKind.AUTH),
                                           ("quota-0123456789", FailureKind.QUOTA)])
def test_the_servers_errors_are_typed_and_not_cached(client, key, kind):
    geocoder = AmapMcp(key, COMMAND)
    for _ in range(2):
        with pytest.raises(ProviderFailure) as failure:
            geocoder.geocode(client, "上海市浦东新区", None)
        assert failure.value.kind is kind and failure.value.provider == "amap_mcp"
    assert [q.cached for q in client.take_trace()] == [False, False]


def test_a_success_that_is_not_the_servers_answer_is_malformed_and_not_cached(client):
    geocoder = AmapMcp("garbled-0123456789", COMMAND)
    for _ in range(2):
        with pytest.raises(ProviderFailure) as failure:
            geocoder.geocode(client, "上海市浦东新区", None)
        assert failure.value.kind is FailureKind.MALFORMED
    assert [q.cached for q in client.take_trace()] == [False, False]


def test_a_server_that_does_not_answer_in_time_is_a_timeout(client):
    """The timeout bounds the whole call (the server answers a minute later: it is cancelled
    and stopped with it)."""
    import time

    start = time.monotonic()
    with pytest.raises(ProviderFailure) as failure:
        AmapMcp("slow-0123456789", COMMAND, timeout_s=8).geocode(client, "上海市浦东新区", None)
    assert failure.value.kind is FailureKind.TIMEOUT and "no answer in 8 s" in str(failure.value)
    assert time.monotonic() - start < 45  # well before the server's minute


def test_a_server_that_does_not_start_is_a_network_failure(client):
    with pytest.raises(ProviderFailure) as failure:
        AmapMcp(KEY, f"{COMMAND} --fail", timeout_s=20).geocode(client, "上海市浦东新区", None)
    assert failure.value.kind is FailureKind.NETWORK
    assert "\n" not in str(failure.value)


def test_offline_starts_nothing(tmp_path):
    offline = OnlineClient(OnlineConfig(offline=True), OnlineStore(tmp_path / "o.sqlite"))
    with pytest.raises(ProviderFailure) as failure:
        AmapMcp(KEY, f"{COMMAND} --fail").geocode(offline, "上海市浦东新区", None)
    assert failure.value.kind is FailureKind.OFFLINE


def test_without_an_amap_key_it_is_not_configured():
    with pytest.raises(ProviderFailure) as failure:
        AmapMcp(None, COMMAND)
    assert failure.value.kind is FailureKind.NOT_CONFIGURED and "AMAP_KEY" in str(failure.value)


@pytest.fixture
def http_server():
    """The stand-in over Streamable HTTP on 127.0.0.1 (its key given in the build)."""
    import uvicorn

    sys.path.insert(0, str(FAKE.parent))
    from amap_mcp_server import build

    app = build(KEY).streamable_http_app(host="127.0.0.1", streamable_http_path="/mcp")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the stand-in did not start")
        threading.Event().wait(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(10)


def test_http_geocode_with_the_key_in_the_url_redacted(client, http_server):
    url = f"{http_server}?key={KEY}"
    places = AmapMcp(KEY, url).geocode(client, "上海市浦东新区", None)
    assert [p.admin for p in places] == ["上海市浦东新区"]
    trace = client.take_trace()
    assert trace[0].endpoint == f"{http_server}?key=***#maps_geo"
    assert KEY not in json.dumps([q.model_dump() for q in trace])


def test_the_chain_uses_it_when_listed_with_the_amap_key(monkeypatch, tmp_path):
    monkeypatch.setenv("SINOLOC_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SINOLOC_ONLINE_DB", str(tmp_path / "online.sqlite"))
    monkeypatch.setenv("AMAP_KEY", KEY)
    monkeypatch.setenv("SINOLOC_GEOCODERS", "amap_mcp")
    monkeypatch.setenv("SINOLOC_AMAP_MCP", COMMAND)
    monkeypatch.delenv("SINOLOC_OFFLINE", raising=False)
    config = load_config()
    assert config.geocoders == ["amap_mcp"] and config.amap_mcp == COMMAND
    services = OnlineServices(config, OnlineStore(tmp_path / "online.sqlite"))
    attempt = services.geocode("上海市浦东新区", None)
    assert attempt.provider == "amap_mcp" and attempt.failures == []
    assert attempt.places[0].district_adcode == "310115"

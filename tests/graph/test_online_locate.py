"""--offline end to end: a locate run with every provider configured makes zero network calls;
without --offline the guard sees the attempts and the run goes on; a hosted model is refused."""

import json

import pytest
from imaging import hangzhou_shop
from socket_guard import SocketGuard

from sinoloc.app.cli.main import main


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Whatever a mock misses fails here instead of reaching the network."""
    return SocketGuard(monkeypatch)


# ------------------------------------------------------------------ --offline, end to end
@pytest.fixture
def online_everything(monkeypatch, tmp_path):
    """Every provider configured with a key, Nominatim and web search on."""
    monkeypatch.setenv("AMAP_KEY", "k1")
    monkeypatch.setenv("BAIDU_MAP_AK", "k2")
    monkeypatch.setenv("TENCENT_MAP_KEY", "k3")
    monkeypatch.setenv("SINOLOC_GEOCODERS", "amap,tencent,baidu,nominatim")
    monkeypatch.setenv("SINOLOC_WEB_SEARCH", "1")
    monkeypatch.setenv("SINOLOC_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SINOLOC_ONLINE_DB", str(tmp_path / "online.sqlite"))
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    return path


def test_offline_locate_makes_zero_network_calls(online_everything, no_network, capsys):
    guard = no_network
    code = main(["locate", str(online_everything), "--offline", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and guard.attempts == []
    assert out["district"] == "西湖区" and out["outbound_queries"] == []
    geocode = next(t for t in out["tool_calls"] if t["tool"] == "geocode_poi")
    assert "offline run" in geocode["summary"]


def test_the_guard_sees_real_attempts_without_offline(online_everything, no_network, capsys):
    guard = no_network  # the same run without --offline: the providers try
    code = main(["locate", str(online_everything), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and guard.attempts  # blocked, so every provider failed …
    assert out["district"] == "西湖区"  # … and the run went on with the offline evidence
    sent = {q["provider"] for q in out["outbound_queries"]}
    assert sent == {"amap", "tencent", "baidu", "nominatim"}
    assert all(q["status"] in ("network", "timeout") for q in out["outbound_queries"])
    assert not any(k in json.dumps(out) for k in ('"k1"', '"k2"', '"k3"', "=k1", "=k2"))


def test_offline_refuses_a_hosted_model(online_everything, capsys):
    code = main(["locate", str(online_everything), "--offline",
                 "--llm", "google_genai:gemini-2.5-flash"])
    err = capsys.readouterr().err
    assert code == 2 and "forbids the hosted model google_genai:gemini-2.5-flash" in err

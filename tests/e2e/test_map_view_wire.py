"""``map_view`` on the wire: a scripted model (Gemini, OpenAI-compatible and Ollama dialects,
the real SDKs over loopback) asks for the map views of a point; the static-map provider's
recorded answers (respx) come back as images the model sees in its very next request, after
the tool results, and the key appears nowhere in the output. No test reaches the network."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
import respx
from imaging import street_scene
from PIL import Image
from provider_dialects import ADDRESS, DIALECTS, RIGHT, Seen, Turn, scripted_model_env
from provider_server import Recorded, ScriptedServer

pytest.importorskip("langchain_google_genai")
pytest.importorskip("langchain_openai")
pytest.importorskip("langchain_ollama")
pytestmark = pytest.mark.loopback

from sinoloc.agent.schemas import GeoPrediction  # noqa: E402
from sinoloc.app.cli.main import main  # noqa: E402

KEY = "test-tencent-map-key-42"
ROAD, SATELLITE = (230, 220, 200), (30, 90, 40)
TENCENT = r"https://apis\.map\.qq\.com/ws/staticmap/v2/.*"


def png(color) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 400), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def online(monkeypatch, tmp_path):
    monkeypatch.setenv("SINOLOC_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("SINOLOC_ONLINE_DB", str(tmp_path / "online.sqlite"))
    monkeypatch.setenv("TENCENT_MAP_KEY", KEY)
    monkeypatch.setenv("SINOLOC_GEOCODERS", "")  # map images only: no geocoder in this test
    scripted_model_env(monkeypatch)
    for name in ("SINOLOC_OFFLINE", "AMAP_KEY", "TIANDITU_KEY", "SINOLOC_TIANDITU_KEY",
                 "SINOLOC_STATIC_MAPS"):
        monkeypatch.delenv(name, raising=False)


def images_in(dialect: str, record: Recorded) -> list[tuple[int, bytes]]:
    """(message index, image bytes) of every image the request carries."""
    body = record.json()
    out = []
    if dialect == "gemini":
        for i, content in enumerate(body["contents"]):
            out += [(i, _b64(p["inlineData"]["data"]))
                    for p in content.get("parts", []) if "inlineData" in p]
    elif dialect == "openai":
        for i, message in enumerate(body["messages"]):
            parts = message["content"] if isinstance(message.get("content"), list) else []
            out += [(i, base64.b64decode(p["image_url"]["url"].split(",", 1)[1]))
                    for p in parts if p.get("type") == "image_url"]
    else:
        for i, message in enumerate(body["messages"]):
            out += [(i, base64.b64decode(b)) for b in message.get("images") or []]
    return out


def _b64(text: str) -> bytes:
    """google-genai sends bytes as URL-safe base64 without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def last_tool_result(dialect: str, record: Recorded) -> int:
    body = record.json()
    if dialect == "gemini":
        return max(i for i, c in enumerate(body["contents"])
                   if any("functionResponse" in p for p in c.get("parts", [])))
    return max(i for i, m in enumerate(body["messages"]) if m["role"] == "tool")


def colour(data: bytes) -> tuple[int, ...]:
    return Image.open(io.BytesIO(data)).convert("RGB").getpixel((320, 40))


def near(a, b, tolerance=8) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def script(seen: Seen) -> Turn:
    if not seen.results_of("map_view"):
        assert "map_view" in seen.tools  # offered: online, a key, a model that sees images
        return Turn(calls=[("lookup_clues", {"text": ADDRESS}),
                           ("map_view", {"lat": RIGHT["lat"], "lon": RIGHT["lon"], "zoom": 16})])
    ids = seen.evidence_ids("lookup_clues")
    return Turn(calls=[("submit_answer", {**RIGHT, "province_evidence": ids, "city_evidence": ids,
                                          "district_evidence": ids,
                                          "reasoning": "the street grid matches the map"})])


@pytest.mark.parametrize("backend", list(DIALECTS))
def test_map_views_reach_the_model_in_its_next_request(backend, online, tmp_path, capsys):
    dialect = DIALECTS[backend]
    photo = tmp_path / "street.jpg"
    street_scene(320, 240).save(photo)
    with ScriptedServer(dialect.path) as server, respx.mock(assert_all_called=False) as maps:
        maps.route(host="127.0.0.1").pass_through()  # the model server (httpx SDKs)
        road = maps.get(url__regex=TENCENT, params__contains={"maptype": "roadmap"}).mock(
            return_value=httpx.Response(200, content=png(ROAD),
                                        headers={"content-type": "image/png"}))
        satellite = maps.get(url__regex=TENCENT, params__contains={"maptype": "satellite"}).mock(
            return_value=httpx.Response(200, content=png(SATELLITE),
                                        headers={"content-type": "image/png"}))
        server.fallback = dialect.reply_for(script)
        url = server.url + ("/v1" if backend == "openai" else "")
        code = main(["locate", str(photo), "--llm", dialect.llm, "--base-url", url, "--json",
                     "--model-timeout", "5"])
    out = capsys.readouterr().out
    assert code == 0 and not server.unexpected
    assert road.call_count == 1 and satellite.call_count == 1
    first, second = server.requests
    assert len(images_in(backend, first)) == 1  # the photo only
    images = images_in(backend, second)
    assert len(images) == 3  # the photo, then the road map and the satellite view
    maps_at = [(i, colour(data)) for i, data in images[1:]]
    assert near(maps_at[0][1], ROAD) and near(maps_at[1][1], SATELLITE)
    assert all(i > last_tool_result(backend, second) for i, _ in maps_at)  # after the results
    p = GeoPrediction.model_validate_json(out)
    assert p.answered_by == dialect.llm and p.district == "西湖区"
    shown = [q for q in p.outbound_queries if q.provider == "tencent"]
    assert [q.params["maptype"] for q in shown] == ["roadmap", "satellite"]
    assert all(q.params["key"] == "***" for q in shown)
    assert KEY not in out
    assert not any(t.evidence_ids for t in p.tool_calls if t.tool == "map_view")

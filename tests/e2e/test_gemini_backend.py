"""Gemini through langchain-google-genai (built on google-genai) against recorded responses
served by a scripted server on 127.0.0.1: a functionCall turn, a final turn, a 429, a daily
quota, a blocked prompt. The SDK sends real HTTP over a real socket, whichever HTTP library it
uses (httpx until google-genai 3.6, httpx2 since), so the tests do not depend on patching one;
no test touches the network."""

import base64
import json
from pathlib import Path

import pytest
from imaging import hangzhou_shop
from provider_server import ScriptedServer

pytest.importorskip("langchain_google_genai")
pytestmark = pytest.mark.loopback

from sinoloc.agent.api import Geolocator  # noqa: E402
from sinoloc.agent.llm import LlmSpec, load_chat_model  # noqa: E402
from sinoloc.agent.policies.model import ChatModelPolicy  # noqa: E402

RECORDED = Path(__file__).parents[1] / "data" / "gemini"
ENDPOINT = r"/models/gemini-2\.5-flash:generateContent$"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text())


@pytest.fixture
def server():
    with ScriptedServer(ENDPOINT) as server:
        yield server
    assert not server.unexpected, [r.path for r in server.unexpected]


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    return path


@pytest.fixture
def gemini(monkeypatch, server):
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    spec = LlmSpec.parse("google_genai:gemini-2.5-flash", server.url)
    sleeps: list[float] = []
    policy = ChatModelPolicy(load_chat_model(spec), spec.label, sleep=sleeps.append)
    return policy, sleeps


def test_function_call_then_final_turn(gemini, server, shop):
    policy, _ = gemini
    server.reply(200, recorded("function_call")).reply(200, recorded("final"))
    p = Geolocator(policy).locate(shop)
    assert server.pending == 0
    assert (p.province, p.city, p.district) == ("浙江省", "杭州市", "西湖区")
    assert p.backend == "google_genai:gemini-2.5-flash" and p.answered_by == p.backend
    assert p.usage.model_calls == 2
    assert (p.usage.input_tokens, p.usage.output_tokens) == (2210 + 2390, 21 + 140)
    assert p.usage.cost_usd == pytest.approx((4600 * 0.30 + 161 * 2.50) / 1e6)
    assert "ai.google.dev" in p.usage.price_source
    geocode = next(t for t in p.tool_calls if t.tool == "geocode_poi")
    assert geocode.args == {"query": "文三路", "within": "杭州市"}
    first = server.requests[0].json()
    declared = {f["name"] for tool in first["tools"] for f in tool["functionDeclarations"]}
    assert {"ocr", "geocode_poi", "submit_answer"} <= declared
    parts = [part for content in first["contents"] for part in content["parts"]]
    image = next(part["inlineData"] for part in parts if "inlineData" in part)
    assert image.get("mimeType", image.get("mime_type")) == "image/jpeg"
    assert base64.urlsafe_b64decode(image["data"])[:2] == b"\xff\xd8"  # a JPEG
    assert "Clue checklist" in json.dumps(first["systemInstruction"], ensure_ascii=False)
    second = server.requests[1].json()
    responses = [part["functionResponse"] for content in second["contents"]
                 for part in content["parts"] if "functionResponse" in part]
    assert responses and responses[-1]["name"] == "geocode_poi"
    assert server.requests[0].headers["x-goog-api-key"] == "test-key-not-real"
    assert "test-key-not-real" not in p.model_dump_json()


def test_429_waits_for_the_retry_delay(gemini, server, shop):
    policy, sleeps = gemini
    server.reply(429, recorded("rate_limited")).reply(200, recorded("final"))
    p = Geolocator(policy).locate(shop)
    assert sleeps == [4.0]
    assert p.answered_by == "google_genai:gemini-2.5-flash" and p.usage.model_errors == 1


def test_daily_quota_falls_back(gemini, server, shop):
    policy, sleeps = gemini
    server.reply(429, recorded("daily_quota"))
    p = Geolocator(policy).locate(shop)
    assert len(server.requests) == 1 and sleeps == []
    assert p.backend_fallback.startswith("quota_exhausted")
    assert p.district == "西湖区" and p.answered_by == "fusion"


def test_blocked_prompt_falls_back(gemini, server, shop):
    policy, _ = gemini
    server.reply(200, recorded("blocked"))
    p = Geolocator(policy).locate(shop)
    assert p.backend_fallback == "safety_block: prompt blocked (SAFETY)"
    assert p.district == "西湖区" and p.answered_by == "fusion"


def test_cli_with_llm_prints_backend_and_trace(monkeypatch, server, shop, capsys):
    from sinoloc.agent.schemas import GeoPrediction
    from sinoloc.app.cli.main import main

    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    for _ in range(2):
        server.reply(200, recorded("function_call")).reply(200, recorded("final"))
    llm = ["--llm", "google_genai:gemini-2.5-flash", "--base-url", server.url]
    assert main(["locate", str(shop), *llm]) == 0
    text = capsys.readouterr().out
    assert main(["locate", str(shop), *llm, "--json"]) == 0
    as_json = capsys.readouterr().out
    assert "backend: google_genai:gemini-2.5-flash, answered by google_genai:gemini-2.5-flash" \
        in text
    assert "geocode_poi(query='文三路', within='杭州市')" in text
    assert "model: 2 calls (0 failed), 4600 input + 161 output tokens, $0.0018" in text
    p = GeoPrediction.model_validate_json(as_json)  # the same schema as the offline default
    assert p.district == "西湖区" and p.usage.model_calls == 2

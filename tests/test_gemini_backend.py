"""Gemini through langchain-google-genai (built on google-genai, httpx) against recorded HTTP
responses with respx: a functionCall turn, a final turn, a 429, a daily quota, a blocked
prompt. No test touches the network."""

import base64
import json
from pathlib import Path

import httpx
import pytest
from imaging import hangzhou_shop

pytest.importorskip("langchain_google_genai")
respx = pytest.importorskip("respx")

from sinoloc.agent.api import Geolocator  # noqa: E402
from sinoloc.agent.llm import LlmSpec, load_chat_model  # noqa: E402
from sinoloc.agent.llm.policy import ChatModelPolicy  # noqa: E402

RECORDED = Path(__file__).parent / "data" / "gemini"
ENDPOINT = r"https://generativelanguage\.googleapis\.com/.*/models/gemini-2\.5-flash:generateContent"


def recorded(name: str, status: int = 200, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, json=json.loads((RECORDED / f"{name}.json").read_text()),
                          headers=headers)


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    return path


@pytest.fixture
def gemini(monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    spec = LlmSpec.parse("google_genai:gemini-2.5-flash")
    sleeps: list[float] = []
    policy = ChatModelPolicy(load_chat_model(spec), spec.label, sleep=sleeps.append)
    return policy, sleeps


def test_function_call_then_final_turn(gemini, shop):
    policy, _ = gemini
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(url__regex=ENDPOINT).mock(
            side_effect=[recorded("function_call"), recorded("final")])
        p = Geolocator(policy).locate(shop)
    assert (p.province, p.city, p.district) == ("浙江省", "杭州市", "西湖区")
    assert p.backend == "google_genai:gemini-2.5-flash" and p.answered_by == p.backend
    assert p.usage.model_calls == 2
    assert (p.usage.input_tokens, p.usage.output_tokens) == (2210 + 2390, 21 + 140)
    assert p.usage.cost_usd == pytest.approx((4600 * 0.30 + 161 * 2.50) / 1e6)
    assert "ai.google.dev" in p.usage.price_source
    geocode = next(t for t in p.tool_calls if t.tool == "geocode_poi")
    assert geocode.args == {"query": "文三路", "within": "杭州市"}
    first = json.loads(route.calls[0].request.content)
    declared = {f["name"] for tool in first["tools"] for f in tool["functionDeclarations"]}
    assert {"ocr", "geocode_poi", "submit_answer"} <= declared
    parts = [part for content in first["contents"] for part in content["parts"]]
    image = next(part["inlineData"] for part in parts if "inlineData" in part)
    assert image.get("mimeType", image.get("mime_type")) == "image/jpeg"
    assert base64.urlsafe_b64decode(image["data"])[:2] == b"\xff\xd8"  # a JPEG
    assert "Clue checklist" in json.dumps(first["systemInstruction"], ensure_ascii=False)
    second = json.loads(route.calls[1].request.content)
    responses = [part["functionResponse"] for content in second["contents"]
                 for part in content["parts"] if "functionResponse" in part]
    assert responses and responses[-1]["name"] == "geocode_poi"
    assert route.calls[0].request.headers["x-goog-api-key"] == "test-key-not-real"
    assert "test-key-not-real" not in p.model_dump_json()


def test_429_waits_for_the_retry_delay(gemini, shop):
    policy, sleeps = gemini
    with respx.mock() as mock:
        mock.post(url__regex=ENDPOINT).mock(
            side_effect=[recorded("rate_limited", 429), recorded("final")])
        p = Geolocator(policy).locate(shop)
    assert sleeps == [4.0]
    assert p.answered_by == "google_genai:gemini-2.5-flash" and p.usage.model_errors == 1


def test_daily_quota_falls_back(gemini, shop):
    policy, sleeps = gemini
    with respx.mock() as mock:
        route = mock.post(url__regex=ENDPOINT).mock(return_value=recorded("daily_quota", 429))
        p = Geolocator(policy).locate(shop)
    assert route.call_count == 1 and sleeps == []
    assert p.backend_fallback.startswith("quota_exhausted")
    assert p.district == "西湖区" and p.answered_by == "fusion"


def test_blocked_prompt_falls_back(gemini, shop):
    policy, _ = gemini
    with respx.mock() as mock:
        mock.post(url__regex=ENDPOINT).mock(return_value=recorded("blocked"))
        p = Geolocator(policy).locate(shop)
    assert p.backend_fallback == "safety_block: prompt blocked (SAFETY)"
    assert p.district == "西湖区" and p.answered_by == "fusion"


def test_cli_with_llm_prints_backend_and_trace(monkeypatch, shop, capsys):
    from sinoloc.agent.cli import main
    from sinoloc.agent.schemas import GeoPrediction

    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    with respx.mock() as mock:
        mock.post(url__regex=ENDPOINT).mock(
            side_effect=[recorded("function_call"), recorded("final")] * 2)
        assert main(["locate", str(shop), "--llm", "google_genai:gemini-2.5-flash"]) == 0
        text = capsys.readouterr().out
        assert main(["locate", str(shop), "--llm", "google_genai:gemini-2.5-flash",
                     "--json"]) == 0
        as_json = capsys.readouterr().out
    assert "backend: google_genai:gemini-2.5-flash, answered by google_genai:gemini-2.5-flash" \
        in text
    assert "geocode_poi(query='文三路', within='杭州市')" in text
    assert "model: 2 calls (0 failed), 4600 input + 161 output tokens, $0.0018" in text
    p = GeoPrediction.model_validate_json(as_json)  # the same schema as the offline default
    assert p.district == "西湖区" and p.usage.model_calls == 2

"""The model path's pieces that need no server: tool schemas as each SDK converts them, what a
run offers, the failure model (one kind per failure whatever the SDK, one retry table), the
per-call timeout reaching every client, the time budget bounding a call in flight, and the
price of a chat model given directly."""

from __future__ import annotations

import errno
import itertools
import socket
import threading
import time

import httpx
import pytest
from langchain_core.exceptions import ModelRateLimitError
from langchain_core.messages import AIMessage

from sinoloc.agent.llm import LlmSpec, chat_model_label, load_chat_model
from sinoloc.agent.llm.failures import RETRY_TABLE, FailureKind, classify_error
from sinoloc.agent.llm.toolcalls import recover_calls
from sinoloc.agent.llm.usage import price_for
from sinoloc.agent.policies.model import call_within
from sinoloc.agent.schemas import Answer
from sinoloc.agent.settings import LocateRequest
from sinoloc.agent.toolbox.definitions import from_api_arguments, offered_tools, tool_definitions
from sinoloc.agent.toolbox.registry import TOOLS

ALL = tool_definitions()


def _fields(name: str) -> set[str]:
    model = Answer if name == "submit_answer" else TOOLS[name].args_model
    return set(model.model_fields)


def _untyped(schema: dict, path: str, allow_empty_top: bool) -> list[str]:
    """Paths in a (converted) schema that lost their type, or objects with no properties."""
    problems = []
    kind = str(schema.get("type") or "").lower()
    if not kind:
        problems.append(f"{path}: no type")
    if kind == "object" and not schema.get("properties") and not (allow_empty_top and
                                                                   path.count("/") == 1):
        problems.append(f"{path}: an object with no properties")
    for key, value in (schema.get("properties") or {}).items():
        problems += _untyped(value, f"{path}/{key}", allow_empty_top)
    if isinstance(schema.get("items"), dict):
        problems += _untyped(schema["items"], f"{path}[]", allow_empty_top)
    return problems


def _check(declarations: list[tuple[str, dict | None]], allow_empty_top: bool) -> None:
    assert {n for n, _ in declarations} == {d["function"]["name"] for d in ALL}
    for name, parameters in declarations:
        if not _fields(name):  # a tool without arguments
            assert parameters is None or allow_empty_top, name
            continue
        assert set(parameters["properties"]) == _fields(name), name  # no field dropped
        assert _untyped(parameters, f"/{name}", allow_empty_top) == []


def test_gemini_receives_every_field_typed_and_no_empty_object():
    from langchain_google_genai._function_utils import convert_to_genai_function_declarations

    tools = convert_to_genai_function_declarations(ALL)
    declarations = [d.model_dump(exclude_none=True, mode="json")
                    for t in tools for d in t.function_declarations]
    _check([(d["name"], d.get("parameters")) for d in declarations], allow_empty_top=False)


def test_ollama_receives_every_field_typed():
    from ollama._client import _copy_tools

    tools = [t.model_dump(exclude_none=True, mode="json") for t in _copy_tools(ALL)]
    _check([(t["function"]["name"], t["function"].get("parameters")) for t in tools],
           allow_empty_top=True)


def test_openai_receives_every_field_typed():
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="m", api_key="test-key-not-real", base_url="http://127.0.0.1:9/v1")
    tools = model.bind_tools(ALL).kwargs["tools"]
    _check([(t["function"]["name"], t["function"]["parameters"]) for t in tools],
           allow_empty_top=True)


def test_free_form_object_is_offered_as_pairs_and_read_back():
    submit = next(d for d in ALL if d["function"]["name"] == "submit_answer")["function"]
    offered = submit["parameters"]["properties"]["acknowledged_conflicts"]
    assert offered["type"] == "array" and offered["items"]["required"] == ["key", "value"]
    args = {"province": "浙江省", "lat": 30.27, "lon": 120.13, "acknowledged_conflicts": [
        {"key": "E3", "value": "a tourist's souvenir sign"}]}
    back = from_api_arguments("submit_answer", args)
    assert Answer.model_validate(back).acknowledged_conflicts == {"E3": "a tourist's souvenir sign"}
    assert from_api_arguments("ocr", {"box": [0, 0, 1, 1]}) == {"box": [0, 0, 1, 1]}


def test_tools_that_cannot_run_are_not_offered(monkeypatch):
    for name in ("SINOLOC_PRIOR_CHECKPOINT", "SINOLOC_WEB_SEARCH", "SINOLOC_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("TENCENT_MAP_KEY", "SINOLOC_TENCENT_KEY", "AMAP_KEY", "SINOLOC_AMAP_KEY",
                 "TIANDITU_KEY", "SINOLOC_TIANDITU_KEY", "SINOLOC_STATIC_MAPS"):
        monkeypatch.delenv(name, raising=False)
    plain = offered_tools(LocateRequest(image_path="x.jpg"))
    assert {"cnn_prior", "web_search", "map_view"} <= plain.excluded  # no map key
    monkeypatch.setenv("SINOLOC_WEB_SEARCH", "1")
    monkeypatch.setenv("TENCENT_MAP_KEY", "a-key")
    with_prior = offered_tools(LocateRequest(image_path="x.jpg", prior="/models/prior",
                                             disabled_tools=["ocr"]))
    assert with_prior.excluded == {"ocr"}
    offline = offered_tools(LocateRequest(image_path="x.jpg", prior="/p", offline=True))
    assert offline.excluded == {"web_search", "map_view"}
    names = {d["function"]["name"] for d in tool_definitions(plain.excluded)}
    assert "cnn_prior" not in names and "submit_answer" in names


def _wrapped(outer: Exception, *inner: BaseException) -> Exception:
    """``outer`` raised from a chain of ``inner`` errors, as SDKs wrap transport errors."""
    chain = [outer, *inner]
    for parent, child in itertools.pairwise(chain):
        parent.__cause__ = child
    return outer


def _refused():
    return ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")


@pytest.mark.parametrize(("error", "kind"), [
    (_wrapped(httpx.ConnectError("[Errno -2] Name or service not known"),
              socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
     FailureKind.UNREACHABLE),
    (_wrapped(RuntimeError("Connection error."), httpx.ConnectError("x"), _refused()),
     FailureKind.UNREACHABLE),
    (_wrapped(RuntimeError("Request timed out."), httpx.ReadTimeout("timed out")),
     FailureKind.TIMEOUT),
    (httpx.ReadTimeout("timed out"), FailureKind.TIMEOUT),
    (_wrapped(RuntimeError("Connection error."),
              httpx.RemoteProtocolError("Server disconnected without sending a response.")),
     FailureKind.CONNECTION),
    (httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
     FailureKind.CONNECTION),
])
def test_the_same_wire_failure_is_the_same_kind(error, kind):
    assert classify_error(error).kind is kind


def test_gemini_per_minute_429_waits_and_daily_quota_falls_back():
    words = ("429 RESOURCE_EXHAUSTED. You exceeded your current quota, please check your plan "
             "and billing details. generate_content_free_tier_requests ")
    minute = ModelRateLimitError(words + "quotaId: GenerateRequestsPerMinutePerProjectPerModel"
                                 "-FreeTier {'retryDelay': '4s'}")
    day = ModelRateLimitError(words + "quotaId: GenerateRequestsPerDayPerProjectPerModel-FreeTier"
                              " {'retryDelay': '52s'}")
    assert (classify_error(minute).kind, classify_error(minute).retry_after) == \
        (FailureKind.RATE_LIMITED, 4.0)
    assert classify_error(day).kind is FailureKind.QUOTA_EXHAUSTED
    openai_tpm = ModelRateLimitError("Rate limit reached on tokens per min (TPM). Please try "
                                     "again in 3s.")
    assert classify_error(openai_tpm).retry_after == 3.0


def test_one_retry_table():
    assert set(RETRY_TABLE) == {FailureKind.RATE_LIMITED, FailureKind.SERVER_ERROR,
                                FailureKind.CONNECTION, FailureKind.TIMEOUT}
    assert classify_error(_wrapped(RuntimeError("x"), _refused())).rule.retries == 0
    assert RETRY_TABLE[FailureKind.SERVER_ERROR].pause(1, None) == 8.0
    assert RETRY_TABLE[FailureKind.RATE_LIMITED].pause(0, 4.0) == 4.0


def test_ollama_client_gets_the_per_call_timeout():
    model = load_chat_model(LlmSpec.parse("ollama:qwen2.5vl:7b", "http://127.0.0.1:9",
                                          timeout_s=7.5))
    assert model._client._client.timeout.read == 7.5  # ChatOllama itself drops ``timeout``


def test_openai_and_gemini_get_the_per_call_timeout(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-real")
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key-not-real")
    openai = load_chat_model(LlmSpec.parse("openai:m", "http://127.0.0.1:9/v1", timeout_s=4))
    assert openai.request_timeout == 4
    gemini = load_chat_model(LlmSpec.parse("google_genai:gemini-2.5-flash", timeout_s=4))
    assert gemini.timeout == 4


def test_a_call_is_abandoned_at_the_limit():
    release = threading.Event()
    start = time.perf_counter()
    with pytest.raises(TimeoutError):
        call_within(lambda: release.wait(30), 0.3)
    assert time.perf_counter() - start < 1.0
    release.set()
    assert call_within(lambda: AIMessage(content="ok"), 1.0).content == "ok"
    with pytest.raises(KeyError):
        call_within(lambda: {}["missing"], 1.0)


@pytest.mark.parametrize("reply", [
    AIMessage(content='<tool_call>\n{"name": "lookup_clues", "arguments": {"text": "杭州'
                      '\n</tool_call>'),
    AIMessage(content="", response_metadata={"finish_reason": "MALFORMED_FUNCTION_CALL",
                                             "finish_message": "Malformed function call: x"}),
])
def test_a_call_the_server_could_not_parse_is_malformed_whatever_the_server(reply):
    recovered = recover_calls(reply)
    assert recovered.invalid_tool_calls and not recovered.tool_calls


def test_raw_tool_call_text_that_parses_becomes_a_call():
    reply = AIMessage(content='<tool_call>{"name": "ocr", "arguments": {"heading": 90}}'
                              '</tool_call>')
    assert recover_calls(reply).tool_calls[0]["args"] == {"heading": 90}


def test_a_chat_model_given_directly_is_priced_by_its_model_name(monkeypatch):
    from langchain_google_genai import ChatGoogleGenerativeAI

    monkeypatch.delenv("SINOLOC_LLM_PRICE", raising=False)
    model = ChatGoogleGenerativeAI(model="gemini-2.5-flash", api_key="test-key-not-real")
    label = chat_model_label(model)
    assert label == "google_genai:gemini-2.5-flash" and price_for(label) is not None

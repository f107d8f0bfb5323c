"""Keys never echoed: a provider that repeats the key in its error body (as OpenAI-style servers
do: "Incorrect API key provided: sk-…") must not put it into the prediction, the warnings, the
fallback reason, stdout, the logs or the chat database. The provider is a loopback server that
speaks enough of the OpenAI chat-completions API to refuse the key the real SDK sends."""

import json

from langchain_core.messages import AIMessage

from sinoloc.agent.llm.failures import BackendFailure, FailureKind, classify_error
from sinoloc.tools.secrets import REDACTED, scrub_message, scrub_secrets

KEY = "sk-proj-Zq7VtW3yN8xK2mB5cR9dL4hJ6fG1sA0pQeT"  # what the client is configured with


def test_scrub_removes_configured_values_and_key_shapes(monkeypatch):
    monkeypatch.setenv("AMAP_KEY", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "plain-words-secret")  # named like a secret
    text = ("Incorrect API key provided: sk-ant-api03-AbCdEfGh12345678. "
            "GET https://restapi.amap.com/v3/geocode?address=x&key=0123456789abcdef0123456789abcdef "
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload; google AIzaSyA1234567890abcdefghijklmnopqrs "
            "token=Zm9vYmFyYmF6cXV4MTIzNDU2 and plain-words-secret; sk-proj-abcd****************wxyz")
    out = scrub_secrets(text)
    for leaked in ("sk-ant-api03-AbCdEfGh12345678", "0123456789abcdef", "eyJhbGciOiJIUzI1NiJ9",
                   "AIzaSyA1234567890", "Zm9vYmFyYmF6cXV4MTIzNDU2", "plain-words-secret",
                   "sk-proj-abcd"):
        assert leaked not in out, leaked
    assert "Incorrect API key provided" in out and "key=" + REDACTED in out
    assert "Bearer " + REDACTED in out


def test_scrub_keeps_ordinary_text(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    text = ("429: You exceeded your current quota (GenerateRequestsPerDay); retry in 7s. "
            "杭州市西湖区文三路138号 电话0571-88886666 sha256 9f2c1e0d monkey=banana")
    assert scrub_secrets(text) == text


def test_a_partly_masked_echo_loses_its_visible_pieces(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "company-key-7f3a9b2c4d5e6f708192")
    out = scrub_secrets("Incorrect API key provided: company-key-7f3a****8192")
    assert "company-key-7f3a" not in out and REDACTED in out


def test_backend_failures_and_model_messages_are_scrubbed(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "gm-Secret-0a1b2c3d4e5f6a7b")
    failure = classify_error(RuntimeError("401 API key gm-Secret-0a1b2c3d4e5f6a7b not valid"))
    assert failure.kind is FailureKind.API_ERROR and "gm-Secret" not in str(failure)
    direct = BackendFailure(FailureKind.AUTH, "key=gm-Secret-0a1b2c3d4e5f6a7b rejected")
    assert "gm-Secret" not in direct.message and "gm-Secret" not in str(direct)
    message = AIMessage(content="my key is gm-Secret-0a1b2c3d4e5f6a7b", tool_calls=[{
        "name": "submit_answer", "id": "c1", "type": "tool_call",
        "args": {"province": "浙江省", "reasoning": "sent with gm-Secret-0a1b2c3d4e5f6a7b"}}])
    clean = scrub_message(message)
    assert "gm-Secret" not in clean.text and "gm-Secret" not in json.dumps(clean.tool_calls)
    assert clean.tool_calls[0]["args"]["province"] == "浙江省"

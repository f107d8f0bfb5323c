"""Keys never echoed: a provider that repeats the key in its error body (as OpenAI-style servers
do: "Incorrect API key provided: sk-…") must not put it into the prediction, the warnings, the
fallback reason, stdout, the logs or the chat database. The provider is a loopback server that
speaks enough of the OpenAI chat-completions API to refuse the key the real SDK sends."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from imaging import hangzhou_shop
from langchain_core.messages import AIMessage

from sinoloc.agent.llm.failures import BackendFailure, FailureKind, classify_error
from sinoloc.tools.secrets import REDACTED, scrub_message, scrub_secrets

KEY = "sk-proj-Zq7VtW3yN8xK2mB5cR9dL4hJ6fG1sA0pQeT"  # what the client is configured with


class EchoingOpenAI(BaseHTTPRequestHandler):
    """POST …/chat/completions → 401 whose body repeats the bearer token it was sent."""

    seen: ClassVar[list[str]] = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        type(self).seen.append(token)
        body = json.dumps({"error": {
            "message": f"Incorrect API key provided: {token}. You can find your API key at "
                       "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def echoing_server():
    EchoingOpenAI.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    return path


def _assert_no_key(text: str, key: str = KEY) -> None:
    assert key not in text
    assert key[:16] not in text and key[-16:] not in text  # nor a recognisable piece of it


@pytest.mark.loopback
def test_a_401_that_echoes_the_key_leaves_no_trace(echoing_server, shop, monkeypatch, caplog):
    pytest.importorskip("langchain_openai")
    from sinoloc.agent.api import Geolocator

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    p = Geolocator(llm="openai:gpt-4o-mini", base_url=echoing_server).locate(shop)
    assert EchoingOpenAI.seen == [KEY]  # the key really went out and came back in the body
    assert p.backend_fallback.startswith("auth_error") and "Incorrect API key" in \
        p.backend_fallback and REDACTED in p.backend_fallback
    assert p.district == "西湖区" and p.answered_by == "fusion"  # the answer survives
    _assert_no_key(p.model_dump_json())
    _assert_no_key(json.dumps(p.warnings, ensure_ascii=False))
    _assert_no_key(p.backend_fallback)
    _assert_no_key(caplog.text)


@pytest.mark.loopback
def test_cli_stdout_and_the_chat_database_hold_no_key(echoing_server, shop, monkeypatch,
                                                       capsys, tmp_path):
    pytest.importorskip("langchain_openai")
    from sinoloc.agent.chat.threads import ThreadStore
    from sinoloc.agent.commands.main import main
    from sinoloc.agent.graph import build_graph

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("SINOLOC_LLM_BASE_URL", echoing_server)
    assert main(["locate", str(shop), "--llm", "openai:gpt-4o-mini", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["backend_fallback"].startswith("auth_error")
    _assert_no_key(out + err)

    db = tmp_path / "chat.sqlite"
    with ThreadStore(db) as store:
        graph = build_graph(llm="openai:gpt-4o-mini", checkpointer=store.checkpointer)
        graph.invoke({"request": {"image_path": str(shop)}},
                     {"configurable": {"thread_id": "t1"}})
        graph.invoke({"question": "why not 江苏?"}, {"configurable": {"thread_id": "t1"}})
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("chat.sqlite*"))
    assert len(EchoingOpenAI.seen) >= 2 and b"Incorrect API key" in stored
    assert KEY.encode() not in stored and KEY[:16].encode() not in stored


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

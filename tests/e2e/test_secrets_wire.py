"""A provider on loopback that echoes the API key back: the key leaves no trace in the prediction,
logs, CLI output or the chat database."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from imaging import hangzhou_shop

from sinoloc.tools.secrets import REDACTED

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
    from sinoloc.agent.graph import build_graph
    from sinoloc.app.chat.threads import ThreadStore
    from sinoloc.app.cli.main import main

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

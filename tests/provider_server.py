"""A scripted HTTP server on 127.0.0.1 that speaks whatever its test scripts: the SDK under test
sends real requests over a real socket (whatever HTTP library it uses this month) and gets the
recorded answers back in order; every request is kept for the test's assertions.

    with ScriptedServer() as server:
        server.reply(200, json_body)            # queued in order
        model = load_chat_model(LlmSpec.parse("google_genai:gemini-2.5-flash", server.url))
        ...
        server.requests[0].json()["contents"]
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedServer:
    """Answers the queued replies in order (``path`` restricts which requests they answer; any
    other request, or one past the queue, gets a 404/500 that the test will notice)."""

    def __init__(self, path: str | None = None):
        self.path = re.compile(path) if path else None
        self.requests: list[Recorded] = []
        self.unexpected: list[Recorded] = []
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                record = Recorded(self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length) if length else b"")
                reply = server._next(record)
                self.send_response(reply.status)
                headers = {"content-type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, status: int = 200, body=None, headers: dict | None = None) -> ScriptedServer:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        with self._lock:
            self._replies.append(Reply(status, raw, dict(headers or {})))
        return self

    def _next(self, record: Recorded) -> Reply:
        with self._lock:
            if self.path is not None and not self.path.search(record.path):
                self.unexpected.append(record)
                return Reply(404, b'{"error": "unexpected path"}')
            self.requests.append(record)
            if not self._replies:
                self.unexpected.append(record)
                return Reply(500, b'{"error": "no scripted reply left"}')
            return self._replies.pop(0)

    @property
    def pending(self) -> int:
        return len(self._replies)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

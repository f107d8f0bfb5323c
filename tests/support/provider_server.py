"""A scripted HTTP server on 127.0.0.1 that speaks whatever its test scripts: the SDK under test
sends real requests over a real socket (whatever HTTP library it uses this month) and gets the
recorded answers back in order; every request is kept for the test's assertions.

    with ScriptedServer() as server:
        server.reply(200, json_body)            # queued in order
        model = load_chat_model(LlmSpec.parse("google_genai:gemini-2.5-flash", server.url))
        ...
        server.requests[0].json()["contents"]

Besides plain replies a script can hold transport faults, as a real server or network makes
them: ``hang()`` (the request is read and never answered, until the server closes), ``drop()``
(the connection closes before any response), ``cut()`` (headers and half the body, then close),
``stream()`` (a chunked body: server-sent events or NDJSON, as streaming APIs send), and
``respond(fn)`` (the reply computed from the request, e.g. a tool call citing the evidence ids the
request carries). ``fallback`` answers every request past the queue (default: a 500 the test
notices as ``unexpected``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
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
    fault: str | None = None  # None | "hang" | "drop" | "cut"
    chunks: list[bytes] | None = None  # a chunked (streamed) body instead of ``body``


def _encode(body) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()


class ScriptedServer:
    """Answers the queued replies in order (``path`` restricts which requests they answer; any
    other request, or one past the queue, gets a 404/500 that the test will notice)."""

    def __init__(self, path: str | None = None):
        self.path = re.compile(path) if path else None
        self.requests: list[Recorded] = []
        self.unexpected: list[Recorded] = []
        self._replies: list[Reply | Callable[[Recorded], Reply]] = []
        self.fallback: Reply | Callable[[Recorded], Reply] | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
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
                if reply.fault == "hang":  # read, never answered: a stalled model server
                    server._closing.wait()
                    self.close_connection = True
                    return
                if reply.fault == "drop":  # the connection closes before any response
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                headers = {"content-type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                if reply.chunks is not None:
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for chunk in reply.chunks:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                if reply.fault == "cut":  # half the promised body, then the peer is gone
                    self.wfile.write(reply.body[:len(reply.body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def reply(self, status: int = 200, body=None, headers: dict | None = None,
              times: int = 1) -> ScriptedServer:
        return self.queue(Reply(status, _encode(body), dict(headers or {})), times)

    def queue(self, reply: Reply | Callable[[Recorded], Reply], times: int = 1) -> ScriptedServer:
        with self._lock:
            self._replies += [reply] * times
        return self

    def respond(self, fn: Callable[[Recorded], Reply], times: int = 1) -> ScriptedServer:
        """The reply is computed from the request when it arrives."""
        return self.queue(fn, times)

    def hang(self, times: int = 1) -> ScriptedServer:
        return self.queue(Reply(0, b"", fault="hang"), times)

    def drop(self, times: int = 1) -> ScriptedServer:
        return self.queue(Reply(0, b"", fault="drop"), times)

    def cut(self, status: int = 200, body=None, times: int = 1) -> ScriptedServer:
        return self.queue(Reply(status, _encode(body), fault="cut"), times)

    def stream(self, chunks: list[bytes], content_type: str, times: int = 1) -> ScriptedServer:
        return self.queue(Reply(200, b"", {"content-type": content_type}, chunks=chunks), times)

    def _next(self, record: Recorded) -> Reply:
        with self._lock:
            if self.path is not None and not self.path.search(record.path):
                self.unexpected.append(record)
                return Reply(404, b'{"error": "unexpected path"}')
            self.requests.append(record)
            if self._replies:
                reply = self._replies.pop(0)
            elif self.fallback is not None:
                reply = self.fallback
            else:
                self.unexpected.append(record)
                return Reply(500, b'{"error": "no scripted reply left"}')
        return reply(record) if callable(reply) else reply

    @property
    def pending(self) -> int:
        return len(self._replies)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()  # hung requests are let go
        self._httpd.shutdown()
        self._httpd.server_close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then released): connection refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

"""``sinoloc serve`` against clients that misbehave, over real sockets on 127.0.0.1: streams
dropped mid-run, clients that borrow the operator's model or raise its budgets, requests from
another origin, bodies too large or too slow, head-only connections, truncated images, and a
thread store that must stay within its bounds. (Figures for the same attacks:
``python -m sinoloc.benchmarks.serve_hostile``.)"""

from __future__ import annotations

import base64
import json
import socket
import struct
import time
import zlib

import httpx
import pytest
from web_server import running_server

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.app.cli.common import demo_image

pytestmark = pytest.mark.loopback
DEMO = demo_image().read_bytes()


def _wait_for(condition, seconds: float = 120.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _raw_request(url: str, head: bytes, body: bytes = b"") -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=120)
    sock.sendall(head + body)
    return sock


def _stream_head(url: str, body: bytes, extra: str = "") -> bytes:
    port = url.rsplit(":", 1)[1]
    return (f"POST /api/locate/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n").encode()


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a client that vanishes does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _demo_json() -> bytes:
    return json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(DEMO).decode()}).encode()


# ------------------------------------------------------------------ finding 2: dropped streams
def test_ten_dropped_streams_leave_the_server_answering(tmp_path):
    """The one worker is held by a run of the test's own while ten clients reset their streams
    after the first event, so all ten are queued when they go: each is dropped, the worker is
    free again, and the next upload is answered."""
    import threading

    from sinoloc.app.web.runner import RunTicket

    body = _demo_json()
    gate = threading.Event()

    def held():  # a run that ends when the test says so
        gate.wait(120)
        yield from ()

    with running_server(tmp_path, workers=1) as (url, runner):
        runner.submit(held, RunTicket())
        assert _wait_for(lambda: runner.running == 1, 30)
        for _ in range(10):
            sock = _raw_request(url, _stream_head(url, body), body)
            seen = b""
            while b"event: thread" not in seen:  # the first event, then the client is gone
                chunk = sock.recv(4096)
                assert chunk, seen
                seen += chunk
            _reset(sock)
        queued = runner.queued()
        assert len(queued) == 10
        assert _wait_for(lambda: all(t.cancelled for t in queued), 60)  # the server noticed
        gate.set()
        with httpx.Client(base_url=url, timeout=90) as client:
            r = client.post("/api/locate", files={"image": ("s.jpg", DEMO, "image/jpeg")})
        assert r.status_code == 200 and r.json()["district"] == "西湖区"
        assert runner.dropped == 10 and all(not t.started for t in queued)
        assert _wait_for(lambda: runner.running == 0 and runner.waiting == 0, 60)


def test_a_client_gone_from_the_json_route_frees_its_run(tmp_path):
    import threading

    from sinoloc.app.web.runner import RunTicket

    body = _demo_json()
    head = lambda u: (f"POST /api/locate HTTP/1.1\r\nHost: 127.0.0.1:{u.rsplit(':', 1)[1]}"  # noqa: E731
                      f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
                      "\r\n\r\n").encode()
    gate = threading.Event()

    def held():
        gate.wait(120)
        yield from ()

    with running_server(tmp_path, workers=1) as (url, runner):
        runner.submit(held, RunTicket())
        socks = [_raw_request(url, head(url), body) for _ in range(4)]
        assert _wait_for(lambda: len(runner.queued()) == 4, 60)
        queued = runner.queued()
        for sock in socks:
            _reset(sock)
        assert _wait_for(lambda: all(t.cancelled for t in queued), 60)
        gate.set()
        assert _wait_for(lambda: runner.running == 0 and runner.waiting == 0, 60)
        assert runner.dropped == 4


# ------------------------------------------------------------------ finding 3: the operator's model
def test_a_client_may_not_borrow_the_operators_key_or_raise_its_budgets(tmp_path):
    boundary = ServeBoundary(upload_dir=tmp_path / "up", operator_model="openai:operator-model",
                             max_model_calls=4, max_tool_calls=10, max_verify_rounds=2,
                             max_seconds=30.0)
    with running_server(tmp_path, boundary=boundary) as (url, runner), \
            httpx.Client(base_url=url, timeout=120) as client:
        for spec in ("openai:gpt-4o", "openai:operator-model-2", "google_genai:gemini-2.5-pro"):
            r = client.post("/api/locate", json={"image": "x", "settings": {"llm": spec}})
            assert r.status_code == 400 and "not available to clients" in r.json()["error"], spec
        for value in ("Infinity", "NaN", "1e400"):
            raw = f'{{"image": "x", "settings": {{"max_seconds": {value}}}}}'.encode()
            r = client.post("/api/locate", content=raw, headers={"content-type": "application/json"})
            assert r.status_code == 400, (value, r.text)
        configurable = runner.admit("data:image/jpeg;base64," + base64.b64encode(DEMO).decode(),
                                    {"max_model_calls": 100, "max_tool_calls": 200,
                                     "max_verify_rounds": 10, "max_seconds": 1e9})
    assert (configurable["max_model_calls"], configurable["max_tool_calls"],
            configurable["max_verify_rounds"], configurable["max_seconds"]) == (4, 10, 2, 30.0)


# ------------------------------------------------------------------ finding 4: other origins
@pytest.mark.parametrize("headers", [
    {"Origin": "http://127.0.0.1:1"}, {"Origin": "null"},
    {"Referer": "http://localhost:9/attack.html"}, {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:2"},
])
def test_state_changing_requests_from_another_origin_are_refused(tmp_path, headers):
    with running_server(tmp_path) as (url, runner), httpx.Client(base_url=url, timeout=60) as c:
        multipart = c.post("/api/locate", files={"image": ("s.jpg", DEMO, "image/jpeg")},
                           headers=headers)
        plain = c.post("/api/locate", content=_demo_json(),
                       headers={**headers, "content-type": "text/plain"})
        same = c.get("/api/threads", headers=headers)  # reading is not state-changing
        assert multipart.status_code == plain.status_code == 403
        assert same.status_code == 200 and runner.store.threads() == []


def test_own_origin_and_the_allow_list_may_post(tmp_path):
    with running_server(tmp_path, allowed_origins=["http://127.0.0.1:4444"]) as (url, _), \
            httpx.Client(base_url=url, timeout=120) as c:
        for origin in (url, "http://127.0.0.1:4444"):
            r = c.post("/api/threads/nope/ask", json={"question": "?"}, headers={"Origin": origin})
            assert r.status_code == 404, (origin, r.text)  # past the guard: no such thread


def test_the_token_cookie_is_bound_to_the_servers_port(tmp_path):
    from sinoloc.app.web.guard import cookie_name, cookie_value

    with running_server(tmp_path, token="s3cret") as (url, _), httpx.Client(base_url=url) as c:
        port = int(url.rsplit(":", 1)[1])
        opened = c.get("/?token=s3cret")
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith(f"{cookie_name(port)}=") and "s3cret" not in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert c.get("/api/threads").status_code == 200  # the cookie carries it on this port
        c.cookies.clear()
        # the value another port's server would receive opens nothing: not the token itself,
        # and not this port's cookie under another name
        other = cookie_value("s3cret", port + 1)
        assert httpx.get(f"{url}/api/threads", cookies={cookie_name(port): other}).status_code == 401
        mine = cookie_value("s3cret", port)
        assert httpx.get(f"{url}/api/threads", headers={"Authorization": f"Bearer {mine}"}
                         ).status_code == 401
        assert httpx.get(f"{url}/api/threads", cookies={"sinoloc_token": "s3cret"}).status_code == 401


# ------------------------------------------------------------------ finding 5: bodies and decodes
def test_a_body_without_length_is_refused_at_the_cap_not_read_whole(tmp_path):
    sent = 0

    def chunks():
        nonlocal sent
        for _ in range(400):  # up to 400 MB unless the server stops reading
            sent += 1 << 20
            yield b"x" * (1 << 20)

    with running_server(tmp_path, upload_max_bytes=1 << 20) as (url, _), \
            httpx.Client(base_url=url, timeout=60) as c:
        try:
            r = c.post("/api/locate", content=chunks(), headers={"content-type": "application/json"})
            assert r.status_code == 413
        except httpx.HTTPError:
            pass  # the server may close the connection as soon as it answered
    assert sent < 64 << 20


def _huge_png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of ``width`` x ``height`` that compresses to little."""
    raw = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_admission_reads_the_header_only(tmp_path, monkeypatch):
    """An upload declaring 120 MP is admitted (or refused) from its header: no pixel is decoded
    before the run has a worker (six such uploads at once took the process to 6.7 GB)."""
    from PIL import ImageFile

    big = _huge_png(10000, 11000)
    loads: list[int] = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(1) or real(self))
    with running_server(tmp_path) as (_, runner):
        runner.admit("data:image/png;base64," + base64.b64encode(big).decode(), {})
    assert loads == []


def test_decodes_wait_for_room_in_the_pixel_budget():
    import threading

    from sinoloc.tools.images import PixelBudget

    budget = PixelBudget(150)
    order: list[str] = []

    def hold(name: str, pixels: int, release: threading.Event | None):
        with budget.hold(pixels):
            order.append(f"+{name}")
            if release is not None:
                release.wait(10)
            order.append(f"-{name}")

    release = threading.Event()
    a = threading.Thread(target=hold, args=("a", 120, release))
    a.start()
    assert _wait_for(lambda: order == ["+a"], 10)
    b = threading.Thread(target=hold, args=("b", 120, None))
    b.start()
    time.sleep(0.2)
    assert order == ["+a"]  # b waits for room
    release.set()
    a.join(10)
    b.join(10)
    assert order == ["+a", "-a", "+b", "-b"]


# ------------------------------------------------------------------ finding 6: disk
def test_a_truncated_image_is_refused_and_never_stored(tmp_path):
    whole = _huge_png(400, 300)
    truncated = whole[: len(whole) // 2]  # a valid header, half the data
    with running_server(tmp_path) as (url, _), httpx.Client(base_url=url, timeout=120) as c:
        r = c.post("/api/locate", files={"image": ("t.png", truncated, "image/png")})
        assert r.status_code == 400, r.text
        assert r.json()["error"].startswith("uploaded image: ") and str(tmp_path) not in r.text
    stored = [p for p in (tmp_path / "uploads").rglob("*") if p.is_file()] \
        if (tmp_path / "uploads").exists() else []
    assert stored == []


def test_the_thread_store_keeps_one_checkpoint_per_thread_and_its_bounds(tmp_path):
    from sinoloc.app.chat.threads import ThreadLimits

    limits = ThreadLimits(max_threads=3, max_age_s=3600, max_bytes=64 * 1024 * 1024)
    with running_server(tmp_path, thread_limits=limits) as (url, runner), \
            httpx.Client(base_url=url, timeout=120) as c:
        r = c.post("/api/locate", files={"image": ("s.jpg", DEMO, "image/jpeg")})
        thread = r.headers["x-sinoloc-thread"]
        for i in range(4):
            with c.stream("POST", f"/api/threads/{thread}/ask", json={"question": f"why {i}?"}) as s:
                s.read()
        rows = runner.store._conn.execute(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (thread,)).fetchone()[0]
        assert rows == 1
        for _ in range(4):
            c.post("/api/locate", files={"image": ("s.jpg", DEMO, "image/jpeg")})
        listed = c.get("/api/threads").json()
        assert len(listed) == 3 and thread not in {t["thread_id"] for t in listed}
        page = c.get("/api/threads", params={"limit": 2}).json()
        rest = c.get("/api/threads", params={"limit": 2, "before": page[-1]["updated"]}).json()
        assert [t["thread_id"] for t in page + rest] == [t["thread_id"] for t in listed]
        assert c.get("/api/threads", params={"limit": 100000}).status_code in (400, 422)


def test_upload_store_counts_disk_blocks_and_prunes_without_rescanning(tmp_path, monkeypatch):
    import os

    from sinoloc.tools import upload_store as module

    store = module.UploadStore(tmp_path / "s", max_bytes=64 * 1024, max_age_s=3600, max_files=1000)
    scans = []
    real = store._scan
    monkeypatch.setattr(store, "_scan", lambda: scans.append(1) or real())
    for i in range(40):
        store.add(b"tiny" + str(i).encode(), "PNG")  # 5-6 bytes, a whole block on disk
    files = list((tmp_path / "s").iterdir())
    on_disk = sum(module.disk_bytes(os.stat(f)) for f in files)
    assert on_disk <= 64 * 1024 and len(files) < 40  # blocks counted, not bytes
    assert len(scans) == 1  # the folder was read once, not per upload


# ------------------------------------------------------------------ finding 9: slow clients
def test_half_open_and_slow_body_connections_are_closed(tmp_path):
    with running_server(tmp_path, head_timeout_s=1.0, body_timeout_s=1.0) as (url, _):
        port = url.rsplit(":", 1)[1]
        idle = _raw_request(url, b"")
        partial = _raw_request(url, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        slow = _raw_request(url, _stream_head(url, b"x" * 1000).replace(b"/stream", b""), b"{")
        for sock in (idle, partial):
            sock.settimeout(30)
            assert sock.recv(100) == b""  # closed by the server, not left open
        slow.settimeout(30)
        answer = slow.recv(1000)
        assert b" 408 " in answer.split(b"\r\n")[0], answer
        for sock in (idle, partial, slow):
            sock.close()


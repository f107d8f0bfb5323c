"""A real ``sinoloc serve`` app on 127.0.0.1 for the web tests: uvicorn in a thread, the
offline default policy, a thread store and an upload folder under the test's tmp dir."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.app.chat.threads import ThreadStore
from sinoloc.app.web.app import create_app
from sinoloc.app.web.runner import Runner
from sinoloc.app.web.thread_records import ThreadRecords


@contextmanager
def running_server(root: Path, *, token: str | None = None, workers: int = 2,
                   upload_max_bytes: int = 8 * 1024 * 1024, routers=(), boundary=None,
                   thread_limits=None, head_timeout_s: float | None = None,
                   record_dir: Path | None = None, **app_options):
    """Yields ``(base_url, runner)``; the server stops and the store closes on exit. ``routers``
    are mounted as ``sinoloc serve`` mounts the eval viewer (``--runs``); the server is
    configured as ``sinoloc serve`` configures it (its protocol's head deadline, keep-alive);
    ``record_dir`` is the operator's ``--record-dir``."""
    import uvicorn

    from sinoloc.app.cli.serve import server_config
    from sinoloc.app.web.slow_clients import with_head_timeout

    boundary = boundary or ServeBoundary(upload_dir=root / "uploads",
                                         upload_max_bytes=upload_max_bytes)
    store = ThreadStore(root / "chat.sqlite", thread_limits)
    records = ThreadRecords(record_dir, boundary) if record_dir is not None else None
    runner = Runner(store, None, boundary=boundary, defaults={"offline": True}, workers=workers,
                    records=records)
    config = server_config(create_app(runner, token=token, routers=routers, **app_options),
                           "127.0.0.1", 0)
    if head_timeout_s is not None:
        config.http = with_head_timeout(head_timeout_s)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", runner
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()

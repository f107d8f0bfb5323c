"""An MCP client session (the official SDK's ``mcp.Client``) held open across tests: its event
loop runs in a thread, the session is entered and left in one task there, and tests run
coroutines on it with :meth:`McpSession.run`."""

from __future__ import annotations

import asyncio
import base64
import sys
import threading
from pathlib import Path

PYTHON = sys.executable


def data_uri(path: Path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


class McpSession:
    def __init__(self, target, timeout: float = 180):
        self.target, self.timeout = target, timeout
        self.loop = asyncio.new_event_loop()
        self.client = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _hold(self, stop: asyncio.Event) -> None:
        from mcp import Client

        try:
            async with Client(self.target, read_timeout_seconds=self.timeout) as client:
                self.client = client
                self._ready.set()
                await stop.wait()
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    def __enter__(self) -> McpSession:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._set_stop(), self.loop).result()
        self._holder = asyncio.run_coroutine_threadsafe(self._hold(self._stop), self.loop)
        if not self._ready.wait(self.timeout) or self._failure is not None:
            raise RuntimeError(f"the MCP session did not open: {self._failure!r}")
        return self

    async def _set_stop(self) -> None:
        self._stop = asyncio.Event()

    def run(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout or self.timeout)

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        try:
            self._holder.result(60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)

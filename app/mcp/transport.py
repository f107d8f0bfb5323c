"""How ``sinoloc mcp`` is reached: stdio (a client starts it as a subprocess) or Streamable HTTP
on 127.0.0.1 by default; beyond loopback every request carries the server's token
(``Authorization: Bearer …``), as with ``sinoloc serve``. On loopback the SDK's own checks
refuse other Host and Origin headers (a web page cannot reach it by DNS rebinding)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from mcp.server.mcpserver import MCPServer

BODY_SLACK = 64 * 1024


class BearerToken:
    """A pure ASGI middleware: HTTP requests without the token get 401 (lifespan passes)."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"").removeprefix(b"Bearer ").strip()
            if not secrets.compare_digest(given, self.token):
                body = b'{"error": "this server needs its token (Authorization: Bearer ...)"}'
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, *, host: str, token: str | None, max_upload_bytes: int):
    """The Starlette app at ``/mcp`` (a data: URI is 4/3 of the image, plus the JSON around it)."""
    app = server.streamable_http_app(host=host, streamable_http_path="/mcp",
                                     max_request_body_size=max_upload_bytes * 4 // 3 + BODY_SLACK)
    return BearerToken(app, token) if token else app


async def serve_http(app, host: str, port: int,
                     announce: Callable[[int], Awaitable[None]] | None = None) -> None:
    """Serve until stopped; ``announce(port)`` once listening (port 0 picks a free one)."""
    import asyncio

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started and announce is not None:
        await announce(server.servers[0].sockets[0].getsockname()[1] if server.servers else port)
    await task


__all__ = ["BearerToken", "http_app", "serve_http"]

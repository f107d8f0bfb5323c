"""What every request to ``sinoloc serve`` passes before a route sees it (one ASGI middleware, so
it also holds for streamed responses and for bodies still arriving):

- **host names** (without a token): loopback names only, so a page elsewhere cannot reach the
  server by rebinding its own name to 127.0.0.1;
- **the token** (required beyond loopback): ``Authorization: Bearer``, ``?token=`` (which also
  sets the cookie) or the cookie. The cookie is bound to the server's port: its name carries the
  port and its value is ``HMAC(token, port)``, never the token, so the cookie a browser sends to
  another local port neither opens this server with ``?token=``/``Bearer`` nor any other port;
- **the origin** of every state-changing request (anything but GET, HEAD and OPTIONS): a browser's
  ``Origin`` (else ``Referer``) must be this server's own origin or on the allow-list
  (``--allow-origin``, ``SINOLOC_SERVE_ORIGINS``); ``Sec-Fetch-Site: cross-site`` / ``same-site``
  is refused too. A page on another origin, another local port included, cannot start runs
  (multipart uploads and ``text/plain`` bodies need no CORS preflight). Requests with none of
  these headers are not from a browser page and pass (curl, scripts: the token guards them);
- **bodies**: capped while they arrive (the upload routes at the upload limit, every other route
  at :data:`SMALL_BODY`), so a 300 MB body without a ``Content-Length`` is refused at the limit,
  not read whole; a body that stalls past ``body_timeout_s`` is answered 408.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

from sinoloc.tools.privacy import is_loopback_host

COOKIE_PREFIX = "sinoloc_token_"
SMALL_BODY = 64 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyRefused(Exception):
    """A request body over its cap (413) or arriving too slowly (408)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def cookie_name(port: int | str) -> str:
    return f"{COOKIE_PREFIX}{port}"


def cookie_value(token: str, port: int | str) -> str:
    """The cookie's value for this port: ``HMAC-SHA256(token, "port:N")`` (never the token)."""
    return hmac.new(token.encode(), f"port:{port}".encode(), hashlib.sha256).hexdigest()


def _host(value: str) -> str | None:
    try:
        return urlsplit("//" + value).hostname
    except ValueError:
        return None


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


class Guard:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app, *, token: str | None, upload_limit: int,
                 upload_paths: Iterable[str] = ("/api/locate", "/api/locate/stream"),
                 allowed_origins: Iterable[str] = (), body_timeout_s: float = 60.0):
        self.app = app
        self.token = token
        self.upload_limit = upload_limit
        self.upload_paths = frozenset(upload_paths)
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        port = (scope.get("server") or ("", 0))[1]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        refusal = self._refusal(scope, headers, port, query)
        if refusal is not None:
            return await _answer(send, *refusal)
        if self.token and query.get("token"):  # a valid ?token= sets this port's cookie
            send = _with_cookie(send, cookie_name(port), cookie_value(self.token, port))
        limit = self.upload_limit if scope["path"] in self.upload_paths else SMALL_BODY
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return await _answer(send, 413, f"request body: over the {limit / 2**20:.1f} MB limit")
        started = False

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, _capped(receive, limit, self.body_timeout_s), sending)
        except BodyRefused as exc:
            if not started:
                await _answer(send, exc.status, str(exc))

    def _refusal(self, scope, headers: dict, port: int, query: dict) -> tuple[int, str] | None:
        if not self.token:
            if not is_loopback_host(_host(headers.get("host", ""))):
                return 400, "this server answers loopback host names only"
        elif not self._has_token(headers, port, query):
            return 401, "this server needs its token (open the URL it printed)"
        if scope["method"] not in SAFE_METHODS and not self._same_origin(scope, headers):
            return 403, ("cross-origin request refused: this server takes state-changing "
                         "requests from its own pages only")
        return None

    def _has_token(self, headers: dict, port: int, query: dict) -> bool:
        assert self.token is not None
        token = self.token.encode()
        bearer = headers.get("authorization", "")
        if bearer.startswith("Bearer ") and secrets.compare_digest(
                bearer.removeprefix("Bearer ").strip().encode(), token):
            return True
        given = (query.get("token") or [""])[0]
        if given and secrets.compare_digest(given.encode(), token):
            return True
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header: no cookie
            return False
        morsel = cookies.get(cookie_name(port))
        return morsel is not None and secrets.compare_digest(
            morsel.value.encode(), cookie_value(self.token, port).encode())

    def _same_origin(self, scope, headers: dict) -> bool:
        site = headers.get("sec-fetch-site")
        if site in ("cross-site", "same-site"):
            return False
        origin = headers.get("origin")
        if origin is None and headers.get("referer"):
            origin = _origin_of(headers["referer"]) or "null"
        if origin is None:
            return True  # not sent by a browser page: the token (or loopback) decides
        origin = origin.rstrip("/").lower()
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        return origin != "null" and (origin == own or origin in self.allowed_origins)


def _capped(receive, limit: int, timeout_s: float):
    """``receive`` that refuses a body past ``limit`` bytes, or one whose next part does not
    arrive within ``timeout_s``, as it arrives."""
    seen, done = 0, False

    async def wrapped():
        nonlocal seen, done
        if done:  # the body is in: what follows is the client going away (no deadline)
            return await receive()
        try:
            message = await asyncio.wait_for(receive(), timeout_s)
        except TimeoutError as exc:
            raise BodyRefused(408, "request body: too slow; send it at once") from exc
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyRefused(413, f"request body: over the {limit / 2**20:.1f} MB limit")
            done = not message.get("more_body", False)
        else:
            done = True
        return message

    return wrapped


def _with_cookie(send, name: str, value: str):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            cookie = f"{name}={value}; Path=/; HttpOnly; SameSite=Strict"
            message = {**message, "headers": [*message.get("headers", []),
                                              (b"set-cookie", cookie.encode("latin-1"))]}
        await send(message)
    return wrapped


async def _answer(send, status: int, message: str) -> None:
    """The refusal, on a connection then closed (a body still arriving is not read on)."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


__all__ = ["BodyRefused", "Guard", "cookie_name", "cookie_value"]

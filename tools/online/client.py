"""The one path every online request takes: offline check, cache, rate limit, the call, failure
classification, and a record of what left the machine (keys redacted)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from sinoloc.tools.online.config import OnlineConfig
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.store import OnlineStore, normalise_query

SECRET_PARAMS = frozenset({"key", "ak", "sk", "api_key", "token", "tk"})
QUOTA_BACKOFF_S = 10.0  # after a 429, no request to that provider from any worker for this long
_SECRET_IN_URL = re.compile(r"([?&](?:key|ak|sk|api_key|token|tk)=)[^&\s\"']+", re.IGNORECASE)


class RedactKeys(logging.Filter):
    """httpx logs every request URL at INFO: keys in it become ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        record.msg = self._clean(record.msg)
        return True

    @staticmethod
    def _clean(value):
        """A value whose text holds a key becomes that text with the key hidden; any other
        value is left as it is (so %d and friends still format)."""
        text = str(value)
        return _SECRET_IN_URL.sub(r"\1***", text) if _SECRET_IN_URL.search(text) else value


_REDACTOR = RedactKeys()


class OutboundQuery(BaseModel):
    """One query sinoloc sent (or answered from its cache) — listed in the output's trace."""

    provider: str
    endpoint: str
    params: dict[str, Any]  # as sent, with keys redacted
    cached: bool
    status: str  # ok | a FailureKind value
    seconds: float


def redact_url(url: str) -> str:
    """``url`` with the value of every key-like query parameter as ***."""
    return _SECRET_IN_URL.sub(r"\1***", url)


def redact(params: dict) -> dict:
    return {k: ("***" if k.lower() in SECRET_PARAMS else v) for k, v in params.items()
            if v is not None}


class OnlineClient:
    def __init__(self, config: OnlineConfig, store: OnlineStore, http=None):
        self.config = config
        self.store = store
        self._http = http
        self.trace: list[OutboundQuery] = []

    @property
    def http(self):
        if self._http is None:
            import httpx

            for name in ("httpx", "httpcore"):
                if _REDACTOR not in logging.getLogger(name).filters:
                    logging.getLogger(name).addFilter(_REDACTOR)
            self._http = httpx.Client(timeout=self.config.timeout_s, follow_redirects=True,
                                      headers={"User-Agent": self.config.user_agent})
        return self._http

    def call(self, provider: str, endpoint: str, params: dict, fetch: Callable[[], Any],
             validate: Callable[[Any], None], interval_s: float) -> Any:
        """Answer from the cache, or wait for the provider's slot and ``fetch``; ``validate``
        raises :class:`ProviderFailure` for a documented error; only valid answers are cached."""
        shown = redact(params)
        if self.config.offline:
            self._record(provider, endpoint, shown, False, FailureKind.OFFLINE.value, 0.0)
            raise ProviderFailure(provider, FailureKind.OFFLINE, "network calls are switched off "
                                  "(--offline / SINOLOC_OFFLINE)")
        key = normalise_query({"endpoint": endpoint, **shown})
        ttl = self.config.cache_ttl_days * 86400
        cached = self.store.get(provider, key, ttl)
        if cached is not None:
            self._record(provider, endpoint, shown, True, "ok", 0.0)
            return cached
        self.store.wait_turn(provider, interval_s)
        start = time.perf_counter()
        try:
            data = fetch()
            validate(data)
        except ProviderFailure as failure:
            self._record(provider, endpoint, shown, False, failure.kind.value,
                         time.perf_counter() - start)
            if failure.kind is FailureKind.QUOTA and interval_s > 0:
                self.store.penalise(provider, max(interval_s, QUOTA_BACKOFF_S))  # for everyone
            raise
        self._record(provider, endpoint, shown, False, "ok", time.perf_counter() - start)
        self.store.put(provider, key, data)
        return data

    def get_json(self, provider: str, url: str, params: dict,
                 validate: Callable[[Any], None], interval_s: float) -> Any:
        """An HTTP GET through :meth:`call`, with every transport failure classified."""
        return self.call(provider, url, params, lambda: self._get(provider, url, params),
                         validate, interval_s)

    def get_image(self, provider: str, url: str, params: dict,
                  validate: Callable[[Any], None], interval_s: float) -> dict:
        """An HTTP GET of an image through :meth:`call` (cached like any answer): ``{"mime_type",
        "base64"}``, or ``{"error": body}`` when the provider answered JSON instead, which
        ``validate`` turns into its :class:`ProviderFailure`."""
        return self.call(provider, url, params, lambda: self._get_image(provider, url, params),
                         validate, interval_s)

    def _get_image(self, provider: str, url: str, params: dict) -> dict:
        import base64

        response = self._response(provider, url, params)
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind.startswith("image/"):
            return {"mime_type": kind, "base64": base64.b64encode(response.content).decode()}
        try:
            return {"error": response.json()}
        except ValueError as exc:
            raise ProviderFailure(provider, FailureKind.MALFORMED,
                                  f"neither an image nor JSON ({kind or 'no type'})") from exc

    def _get(self, provider: str, url: str, params: dict) -> Any:
        response = self._response(provider, url, params)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderFailure(provider, FailureKind.MALFORMED,
                                  f"not JSON: {response.text[:80]!r}") from exc

    def _response(self, provider: str, url: str, params: dict):
        """The response to a GET, its transport failures and HTTP error statuses classified."""
        import httpx

        try:
            response = self.http.get(url, params={k: v for k, v in params.items()
                                                  if v is not None})
        except httpx.TimeoutException as exc:
            raise ProviderFailure(provider, FailureKind.TIMEOUT, f"no answer in "
                                  f"{self.config.timeout_s:g} s") from exc
        except httpx.HTTPError as exc:  # DNS failure, refused or reset connection
            raise ProviderFailure(provider, FailureKind.NETWORK,
                                  f"{exc.__class__.__name__}: {exc}") from exc
        status = response.status_code
        if status == 429:
            raise ProviderFailure(provider, FailureKind.QUOTA, "HTTP 429 (rate limited)")
        if status in (401, 403):
            raise ProviderFailure(provider, FailureKind.AUTH, f"HTTP {status} (key rejected)")
        if status >= 400:
            raise ProviderFailure(provider, FailureKind.HTTP, f"HTTP {status}")
        return response

    def _record(self, provider, endpoint, params, cached, status, seconds) -> None:
        self.trace.append(OutboundQuery(provider=provider, endpoint=endpoint, params=params,
                                        cached=cached, status=status,
                                        seconds=round(seconds, 4)))

    def take_trace(self) -> list[OutboundQuery]:
        trace, self.trace = self.trace, []
        return trace

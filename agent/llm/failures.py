"""What went wrong with a model call, and whether retrying can help: one failure model for every
backend.

Each SDK raises its own types for the same failure (an OpenAI ``APITimeoutError``, a bare
``httpx2.ReadTimeout`` from google-genai, an ``httpx.ReadTimeout`` from ollama), and blocked or
refused answers come back as ordinary messages. Both are classified here into one
:class:`BackendFailure` by what happened on the wire, read from the whole chain of causes (the
transport error under the SDK's wrapper), so the same failure is the same kind whatever the SDK.
:data:`RETRY_TABLE` is the one place that says what is retried, how often and after how long.
"""

from __future__ import annotations

import errno
import re
import socket
from dataclasses import dataclass
from enum import Enum

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.messages import AIMessage

from sinoloc.tools.secrets import scrub_secrets

MAX_RETRY_AFTER_S = 60.0  # a longer wait is treated as exhaustion, not a pause


class FailureKind(str, Enum):
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection_error"  # the connection dropped or was reset mid-call
    UNREACHABLE = "unreachable"  # no such host, or nothing listens there: retrying cannot help
    TIMEOUT = "timeout"
    AUTH = "auth_error"
    BAD_REQUEST = "bad_request"
    SAFETY_BLOCK = "safety_block"
    REFUSAL = "refusal"
    NO_TOOL_CALL = "no_tool_call"
    MALFORMED_CALL = "malformed_call"  # tool calls that never parsed, after the reminders
    BUDGET = "time_budget"  # the run's --max-seconds ran out during or before a call
    API_ERROR = "api_error"


@dataclass(frozen=True)
class RetryRule:
    """How often a failure kind is retried and the pause before each retry (a provider's
    retry-after, when it gives one, replaces the pause). The run's time budget bounds all."""

    retries: int
    backoff_s: tuple[float, ...]

    def pause(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return self.backoff_s[min(attempt, len(self.backoff_s) - 1)]


RETRY_TABLE: dict[FailureKind, RetryRule] = {
    FailureKind.RATE_LIMITED: RetryRule(3, (2.0, 8.0, 30.0)),
    FailureKind.SERVER_ERROR: RetryRule(2, (2.0, 8.0)),
    FailureKind.CONNECTION: RetryRule(2, (1.0, 4.0)),
    FailureKind.TIMEOUT: RetryRule(1, (1.0,)),
}  # every other kind: not retried (unreachable hosts, quota, auth, bad requests, refusals)
NO_RETRY = RetryRule(0, (0.0,))
RETRYABLE = frozenset(RETRY_TABLE)


class BackendFailure(Exception):
    """A model call that did not produce a usable turn. Its message is scrubbed of keys here,
    at the one place a provider's text (an error body that echoes the key, a refusal) becomes
    the ``backend_fallback`` and warning text that state, logs and predictions carry."""

    def __init__(self, kind: FailureKind, message: str, retry_after: float | None = None):
        message = scrub_secrets(message)
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def rule(self) -> RetryRule:
        return RETRY_TABLE.get(self.kind, NO_RETRY)

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


# a quota that resets tomorrow, not in a minute: Gemini's quotaId ...PerDay..., OpenAI's
# insufficient_quota; Gemini's per-minute 429s also say "exceeded your current quota" (with a
# RetryInfo of seconds and a ...PerMinute... quotaId), so those words alone decide nothing
_DAILY = re.compile(r"per ?day|daily|insufficient_quota|billing_not_active", re.IGNORECASE)
_PER_MINUTE = re.compile(r"per ?minute|per min\b|\b[RT]PM\b", re.IGNORECASE)
_QUOTA_WORDS = re.compile(r"exceeded your current quota", re.IGNORECASE)
_DELAY = re.compile(r"retry ?delay['\"]?\s*[:=]\s*['\"]?(\d+(?:\.\d+)?)s"
                    r"|(?:try again|retry) in (\d+(?:\.\d+)?) ?s\b", re.IGNORECASE)
_DNS = re.compile(r"Name or service not known|nodename nor servname|getaddrinfo failed|"
                  r"Temporary failure in name resolution|No address associated with hostname|"
                  r"Name does not resolve", re.IGNORECASE)
_DROPPED = re.compile(r"Server disconnected|peer closed connection|Connection reset|"
                      r"incomplete chunked read|IncompleteRead|Broken pipe|"
                      r"RemoteProtocolError|ReadError", re.IGNORECASE)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from or during (an SDK's wrapper, the HTTP
    library's error, the socket's), each once."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo and len(seen) < 16:
        err = todo.pop(0)
        if err is None or any(err is s for s in seen):
            continue
        seen.append(err)
        todo += [e for e in (err.__cause__, err.__context__) if e is not None]
    return seen


def _retry_after(exc: BaseException) -> float | None:
    """Seconds to wait, from a ``retry-after`` header or a google.rpc.RetryInfo delay."""
    for err in _chain(exc):
        response = getattr(err, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None:
            value = headers.get("retry-after")
            if value is not None:
                try:
                    return float(value)
                except ValueError:
                    pass
    match = _DELAY.search(_full_text(exc))
    return float(match.group(1) or match.group(2)) if match else None


def _full_text(exc: BaseException) -> str:
    parts = []
    for err in _chain(exc):
        parts.append(str(err))
        details = getattr(err, "details", None)
        if details and err is not exc:
            parts.append(str(details))
    return " ".join(parts)


def _status(exc: BaseException) -> int | None:
    for err in _chain(exc):
        for attr in ("status_code", "code"):
            value = getattr(err, attr, None)
            if isinstance(value, int):
                return value
        response = getattr(err, "response", None)
        value = getattr(response, "status_code", None)
        if isinstance(value, int):
            return value
    return None


def _transport(chain: list[BaseException], text: str) -> FailureKind | None:
    """What happened on the wire, from the deepest evidence in the chain: a name that does not
    resolve or a port nobody listens on (unreachable), a timeout, a dropped connection."""
    if any(isinstance(e, socket.gaierror) for e in chain) or _DNS.search(text):
        return FailureKind.UNREACHABLE
    if any(isinstance(e, ConnectionRefusedError)
           or getattr(e, "errno", None) in (errno.ECONNREFUSED, errno.EHOSTUNREACH,
                                            errno.ENETUNREACH) for e in chain) \
            or "Connection refused" in text:
        return FailureKind.UNREACHABLE
    if any(isinstance(e, TimeoutError | ModelTimeoutError) or "Timeout" in type(e).__name__
           for e in chain):
        return FailureKind.TIMEOUT
    if any(isinstance(e, ConnectionError) or _DROPPED.search(type(e).__name__) for e in chain) \
            or _DROPPED.search(text):
        return FailureKind.CONNECTION
    return None


def _quota_kind(text: str, wait: float | None) -> FailureKind:
    if _DAILY.search(text) or (wait is not None and wait > MAX_RETRY_AFTER_S):
        return FailureKind.QUOTA_EXHAUSTED
    if wait is None and _QUOTA_WORDS.search(text) and not _PER_MINUTE.search(text):
        return FailureKind.QUOTA_EXHAUSTED  # out of quota, and no word of when to come back
    return FailureKind.RATE_LIMITED


def _by_status(exc: BaseException, status: int | None, short: str) -> BackendFailure:
    """What the provider's answer says, once the wire is ruled out: a server error, a request
    it rejects, or another API error."""
    if isinstance(exc, ModelAPIError) or (status is not None and status >= 500):
        return BackendFailure(FailureKind.SERVER_ERROR, short)
    if isinstance(exc, ModelNotFoundError | ContextOverflowError) or status in (400, 404, 413, 422):
        return BackendFailure(FailureKind.BAD_REQUEST, short)
    if isinstance(exc, ModelError):
        return BackendFailure(FailureKind.API_ERROR, short)
    return BackendFailure(FailureKind.API_ERROR, f"{exc.__class__.__name__}: {short}")


def classify_error(exc: BaseException) -> BackendFailure:
    """Map an exception raised by a chat model to a :class:`BackendFailure`."""
    if isinstance(exc, BackendFailure):
        return exc
    chain = _chain(exc)
    text = _full_text(exc)
    short = str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__
    status = _status(exc)
    if isinstance(exc, ModelRateLimitError) or status == 429 or "RESOURCE_EXHAUSTED" in text:
        wait = _retry_after(exc)
        return BackendFailure(_quota_kind(text, wait), short, wait)
    if isinstance(exc, ModelAuthenticationError | ModelPermissionDeniedError) or status in (401, 403):
        return BackendFailure(FailureKind.AUTH, short)
    wire = _transport(chain, text)
    if wire is not None:
        deepest = chain[-1]
        detail = str(deepest).splitlines()[0][:200] if str(deepest) else type(deepest).__name__
        return BackendFailure(wire, short if detail in short else f"{short} ({detail})")
    if isinstance(exc, ModelConnectionError) or "Connect" in type(exc).__name__:
        return BackendFailure(FailureKind.CONNECTION, short)
    return _by_status(exc, status, short)


_SAFETY_REASONS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION",
                   "IMAGE_SAFETY", "CONTENT_FILTER", "OTHER"}
_REFUSAL = re.compile(
    r"\b(I|we)\s*(?:can(?:'|no)t|cannot|am not able to|'m not able to|am unable to|'m unable to"
    r"|won't|will not)\s+(?:help|assist|provide|identify|determine|locate|geolocate|do that)"
    r"|\bI'm sorry, but\b|\bas an AI\b"
    r"|(?:无法|不能|不便)(?:帮|协助|提供|确定|识别|定位|判断)|抱歉", re.IGNORECASE)


def _value(obj) -> str:
    return str(getattr(obj, "value", obj) or "").upper()


def classify_response(message: AIMessage) -> BackendFailure | None:
    """A blocked or refused turn, or ``None`` when the message is usable."""
    meta = message.response_metadata or {}
    feedback = meta.get("prompt_feedback") or {}
    block = feedback.get("block_reason") if isinstance(feedback, dict) else None
    if block:
        return BackendFailure(FailureKind.SAFETY_BLOCK, f"prompt blocked ({_value(block)})")
    finish = _value(meta.get("finish_reason") or meta.get("stop_reason") or "")
    if finish in _SAFETY_REASONS and not message.tool_calls:
        return BackendFailure(FailureKind.SAFETY_BLOCK, f"response blocked ({finish})")
    if not message.tool_calls and _REFUSAL.search(message.text or ""):
        return BackendFailure(FailureKind.REFUSAL, (message.text or "")[:200])
    return None

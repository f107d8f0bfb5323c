"""What went wrong with a model call, and whether retrying can help.

Provider integrations raise ``langchain_core.exceptions.ModelError`` subclasses keyed to the HTTP
status; blocked or refused answers come back as ordinary messages. Both are classified here into
one :class:`BackendFailure` the policy acts on: wait and retry, or fall back to the
deterministic policy and say so.
"""

from __future__ import annotations

import re
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

from ...tools.secrets import scrub_secrets

MAX_RETRY_AFTER_S = 60.0  # a longer wait is treated as exhaustion, not a pause


class FailureKind(str, Enum):
    RATE_LIMITED = "rate_limited"
    QUOTA_EXHAUSTED = "quota_exhausted"
    SERVER_ERROR = "server_error"
    CONNECTION = "connection_error"
    TIMEOUT = "timeout"
    AUTH = "auth_error"
    BAD_REQUEST = "bad_request"
    SAFETY_BLOCK = "safety_block"
    REFUSAL = "refusal"
    NO_TOOL_CALL = "no_tool_call"
    API_ERROR = "api_error"


RETRYABLE = {FailureKind.RATE_LIMITED, FailureKind.SERVER_ERROR, FailureKind.CONNECTION,
             FailureKind.TIMEOUT}


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

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


_DAILY = re.compile(r"per ?day|daily|PerDay|free_tier_requests|insufficient_quota|"
                    r"exceeded your current quota|billing", re.IGNORECASE)
_DELAY = re.compile(r"retry ?delay['\"]?\s*[:=]\s*['\"]?(\d+(?:\.\d+)?)s", re.IGNORECASE)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it was raised from (providers wrap SDK errors)."""
    return [e for e in (exc, exc.__cause__, exc.__context__) if e is not None]


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
    return float(match.group(1)) if match else None


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


def classify_error(exc: BaseException) -> BackendFailure:
    """Map an exception raised by a chat model to a :class:`BackendFailure`."""
    if isinstance(exc, BackendFailure):
        return exc
    text = _full_text(exc)
    short = str(exc).splitlines()[0][:300] if str(exc) else exc.__class__.__name__
    status = _status(exc)
    if isinstance(exc, ModelRateLimitError) or status == 429 or "RESOURCE_EXHAUSTED" in text:
        wait = _retry_after(exc)
        if _DAILY.search(text) or (wait is not None and wait > MAX_RETRY_AFTER_S):
            return BackendFailure(FailureKind.QUOTA_EXHAUSTED, short, wait)
        return BackendFailure(FailureKind.RATE_LIMITED, short, wait)
    if isinstance(exc, ModelAuthenticationError | ModelPermissionDeniedError) or status in (401, 403):
        return BackendFailure(FailureKind.AUTH, short)
    if isinstance(exc, ModelTimeoutError | TimeoutError):
        return BackendFailure(FailureKind.TIMEOUT, short)
    if isinstance(exc, ModelConnectionError | ConnectionError) or "Connect" in type(exc).__name__:
        return BackendFailure(FailureKind.CONNECTION, short)
    if isinstance(exc, ModelAPIError) or (status is not None and status >= 500):
        return BackendFailure(FailureKind.SERVER_ERROR, short)
    if isinstance(exc, ModelNotFoundError | ContextOverflowError) or status in (400, 404, 413, 422):
        return BackendFailure(FailureKind.BAD_REQUEST, short)
    if isinstance(exc, ModelError):
        return BackendFailure(FailureKind.API_ERROR, short)
    return BackendFailure(FailureKind.API_ERROR, f"{exc.__class__.__name__}: {short}")


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

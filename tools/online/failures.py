"""Why an online call gave nothing: one kind per way it can fail, and the reason in words."""

from __future__ import annotations

from enum import Enum


class FailureKind(str, Enum):
    OFFLINE = "offline"  # the run forbids network calls
    NOT_CONFIGURED = "not_configured"  # no key, or the provider is not enabled
    REFUSED = "refused"  # the query would reveal something the user did not allow
    NETWORK = "network"  # DNS failure, connection refused or reset
    TIMEOUT = "timeout"
    HTTP = "http"  # a 4xx / 5xx status
    AUTH = "auth"  # the provider rejected the key
    QUOTA = "quota"  # daily quota or rate limit on the provider's side
    MALFORMED = "malformed"  # not the JSON the provider documents
    PROVIDER_ERROR = "provider_error"  # a documented error status not listed above


class ProviderFailure(Exception):
    def __init__(self, provider: str, kind: FailureKind, reason: str):
        super().__init__(f"{provider}: {kind.value}: {reason}")
        self.provider = provider
        self.kind = kind
        self.reason = reason

"""What the keyed web-service adapters share: a key that must be present, and a JSON answer
whose ``status`` field says whether it worked."""

from __future__ import annotations

from sinoloc.tools.online.failures import FailureKind, ProviderFailure


class KeyedGeocoder:
    name: str
    key_env: str  # where the key comes from, for the message when it is missing

    def __init__(self, key: str | None):
        if not key:
            raise ProviderFailure(self.name, FailureKind.NOT_CONFIGURED, f"no key ({self.key_env})")
        self.key = key

    def status(self, data) -> str:
        """The answer's ``status`` as text; a malformed answer is a failure."""
        if not isinstance(data, dict) or "status" not in data:
            raise ProviderFailure(self.name, FailureKind.MALFORMED, "no status in the answer")
        return str(data["status"])

    def int_status(self, data) -> int:
        try:
            return int(self.status(data))
        except ValueError as exc:
            raise ProviderFailure(self.name, FailureKind.MALFORMED,
                                  f"status {data['status']!r} is not a number") from exc

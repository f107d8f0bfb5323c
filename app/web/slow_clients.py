"""Connections that never finish a request's head: uvicorn's h11 protocol waits for one forever
(its keep-alive timer stops at the first byte of the next request), so a few hundred half-open
sockets, or one byte a minute, would hold the server's connections. :class:`HeadTimeoutH11`
closes a connection whose request head (request line and headers) is not complete within
:data:`HEAD_TIMEOUT_S` of the connection opening or of the previous response; a slow *body* is
app/web/guard.py's (``body_timeout_s``)."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_S = 10.0


class HeadTimeoutH11(H11Protocol):
    head_timeout_s = HEAD_TIMEOUT_S
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_timer()  # the next request's head has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_deadline)

    def _head_deadline(self) -> None:
        """No request is being answered (none yet, or the last one is done): the head of the
        next one did not arrive in time."""
        idle = self.cycle is None or self.cycle.response_complete
        if idle and not self.transport.is_closing():
            self.transport.close()


def with_head_timeout(seconds: float) -> type[HeadTimeoutH11]:
    """The protocol class with another deadline (tests use a short one)."""
    return type("HeadTimeoutH11", (HeadTimeoutH11,), {"head_timeout_s": seconds})


__all__ = ["HEAD_TIMEOUT_S", "HeadTimeoutH11", "with_head_timeout"]

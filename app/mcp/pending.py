"""The review threads an MCP server holds (app/mcp/review.py): each reviewed call's paused run
lives in memory until the person answers, so they are bounded — at most :data:`MAX_REVIEWS`
at once (a new review beyond that is refused, nobody else's is dropped), a run paused over the
2026 protocol waits at most :data:`REVIEW_WAIT_S` for its retried call, and a thread is deleted
the moment its call ends, however it ends."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from mcp.server.mcpserver.exceptions import ToolError

from sinoloc.agent.boundary import ClientInputError

MAX_REVIEWS = 64  # review threads held at once (running, asking over a back-channel, or parked)
REVIEW_WAIT_S = 900.0  # how long a person has to answer one form
FULL = ("review: {n} reviews are waiting for their people on this server; try again later, "
        "or call locate_image without review")
UNKNOWN_STATE = ("review: this request_state is unknown or expired (a form waits "
                 "{minutes:g} minutes for its answer); call locate_image again")


@dataclass
class Waiting:
    """A review thread's run: its settings, the review it stopped for, the reviews answered so
    far in it and the forms in a row that made no decision."""

    configurable: dict
    request: dict = field(default_factory=dict)
    rounds: int = 0
    forms: int = 0
    since: float = 0.0


class PendingReviews:
    def __init__(self, delete: Callable[[str], None], *, capacity: int = MAX_REVIEWS,
                 wait_s: float = REVIEW_WAIT_S, clock: Callable[[], float] = time.monotonic):
        self._delete, self.capacity, self.wait_s, self._clock = delete, capacity, wait_s, clock
        self._live: set[str] = set()
        self._parked: OrderedDict[str, Waiting] = OrderedDict()

    def __len__(self) -> int:
        return len(self._live)

    def open(self) -> str:
        """A new review thread's id (unguessable: it is the request_state of a parked run);
        raises ClientInputError when the server holds as many as it may."""
        self.expire()
        if len(self._live) >= self.capacity:
            raise ClientInputError(FULL.format(n=self.capacity))
        thread_id = uuid.uuid4().hex
        self._live.add(thread_id)
        return thread_id

    def park(self, thread_id: str, waiting: Waiting) -> None:
        """``thread_id``'s run waits for the retried call that brings the person's answer."""
        waiting.since = self._clock()
        self._parked[thread_id] = waiting

    def take(self, state: str | None) -> Waiting:
        """The parked run a retried call names; ToolError when there is none (never parked,
        already answered, expired or forged)."""
        self.expire()
        found = self._parked.pop(state or "", None)
        if found is None:
            raise ToolError(UNKNOWN_STATE.format(minutes=self.wait_s / 60))
        return found

    def close(self, thread_id: str) -> None:
        """The call is over: its thread goes."""
        self._parked.pop(thread_id, None)
        self._live.discard(thread_id)
        self._delete(thread_id)

    def expire(self) -> None:
        now = self._clock()
        for thread_id, waiting in list(self._parked.items()):
            if now - waiting.since > self.wait_s:
                self.close(thread_id)


__all__ = ["FULL", "MAX_REVIEWS", "REVIEW_WAIT_S", "UNKNOWN_STATE", "PendingReviews", "Waiting"]

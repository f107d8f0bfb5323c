"""app/mcp/pending.py: the review threads an MCP server holds are bounded in number and in
waiting time, and each is deleted when its call ends."""

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from sinoloc.agent.boundary import ClientInputError
from sinoloc.app.mcp.pending import PendingReviews, Waiting


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_full_server_refuses_a_new_review_and_drops_nobody_elses():
    deleted: list[str] = []
    pending = PendingReviews(deleted.append, capacity=2)
    first, second = pending.open(), pending.open()
    pending.park(first, Waiting({}))
    with pytest.raises(ClientInputError, match="2 reviews are waiting"):
        pending.open()
    assert deleted == [] and pending.take(first).configurable == {}
    pending.close(second)
    assert deleted == [second] and len(pending) == 1 and pending.open()


def test_a_parked_review_expires_and_its_thread_is_deleted():
    deleted: list[str] = []
    clock = Clock()
    pending = PendingReviews(deleted.append, wait_s=60, clock=clock)
    thread = pending.open()
    pending.park(thread, Waiting({"thread_id": thread}))
    clock.now = 59
    pending.expire()
    assert deleted == [] and len(pending) == 1
    clock.now = 61
    with pytest.raises(ToolError, match="unknown or expired"):
        pending.take(thread)
    assert deleted == [thread] and len(pending) == 0


def test_an_unknown_or_forged_state_takes_nothing():
    pending = PendingReviews(lambda t: None)
    thread = pending.open()
    for state in ("", None, "0" * 32, thread):  # open but never parked: not resumable either
        with pytest.raises(ToolError):
            pending.take(state)
    assert thread != pending.open() and len(thread) == 32

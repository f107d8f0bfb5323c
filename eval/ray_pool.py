"""The actor pool that schedules tasks on Ray actors, for ``eval run --engine ray`` and
``locate --engine ray`` alike (:mod:`.ray_engine` makes the actors and says what a task is).

Each actor is sent its next task only when it has answered the last, so a per-task timeout is
measured from the send: past it, the actor is killed and replaced. An actor lost with its node (or
killed by the OS) loses no task and repeats none: its task goes back to the front of the queue for
another actor, up to :data:`~.results.MAX_ATTEMPTS` losses, after which the task is given up (what
that means is the caller's :class:`Hooks`). Actors that cannot be placed or started stop the run
with a :class:`~.failures.RunError`.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sinoloc.eval.failures import RunError
from sinoloc.eval.results import MAX_ATTEMPTS

if TYPE_CHECKING:  # Ray is optional: imported where it is used
    from ray.exceptions import RayActorError

START_LIMIT_S = 900.0  # as for a local worker: loading a model can take minutes
CLOSE_GRACE_S = 5.0
START_RETRIES = 3  # per actor: nodes lost while actors start, before the run gives up
POLL_S = 0.5
T = TypeVar("T")  # a task of the actor pool: an eval image, or a ``locate`` batch image


class _Slot(Generic[T]):
    """An actor and the task it holds."""

    def __init__(self, make: Callable[[str | None], Any], server: str | None):
        self.actor = make(server)  # a Ray actor handle: its methods are reached as .name.remote()
        self.server = server
        self.pending = self.actor.ready.remote()
        self.ready = False
        self.item: T | None = None
        self.attempt = 1
        self.since = time.monotonic()

    def send(self, item: T, payload: object, attempt: int) -> None:
        self.item, self.attempt, self.since = item, attempt, time.monotonic()
        self.pending = self.actor.locate.remote(payload, attempt)


@dataclass
class Hooks(Generic[T]):
    """What a kind of task (an eval image, a ``locate`` batch image) does around the pool: what
    is sent to an actor, what an answer, a task lost too often or one past its time becomes."""

    payload: Callable[[T], object]
    name: Callable[[T], str]
    attempt: Callable[[T], int]
    answer: Callable[[T, dict], None]
    gave_up: Callable[[T, str, float, int], None]  # (task, why, seconds, attempt)
    timed_out: Callable[[T, float, int], None]
    timeout_s: float = math.inf
    who: str = "sinoloc"


class _ActorPool(Generic[T]):
    """What :func:`drive` keeps between rounds: the slots, each task's losses and the actors
    lost before they were ready; one method per thing that can happen to a slot."""

    def __init__(self, ray, make: Callable[[str | None], Any], servers: list, count: int,
                 hooks: Hooks[T]):
        self.ray, self.make, self.hooks = ray, make, hooks
        self.slots: list[_Slot[T]] = [_Slot(make, servers[i % len(servers)]) for i in range(count)]
        self.lost: dict[str, int] = {}
        self.starts = 0  # actors lost before they were ready (not their own fault)

    def busy(self) -> bool:
        return any(s.item is not None for s in self.slots)

    def replace(self, i: int) -> None:
        slot = self.slots[i]
        self.ray.kill(slot.actor, no_restart=True)
        self.slots[i] = _Slot(self.make, slot.server)

    def dispatch(self, items: deque[T]) -> None:
        """Every ready, idle actor takes the next task."""
        for slot in self.slots:
            if slot.ready and slot.item is None and items:
                item = items.popleft()
                slot.send(item, self.hooks.payload(item), self.hooks.attempt(item))

    def finished(self) -> set:
        """The pending results that came back within one poll (at most one)."""
        waiting = [s.pending for s in self.slots if not s.ready or s.item is not None]
        done, _ = self.ray.wait(waiting, num_returns=1, timeout=POLL_S) if waiting else ([], [])
        return set(done)

    def receive(self, i: int, items: deque[T]) -> None:
        """Slot ``i``'s result came back: its actor is ready, its task answered, or it is lost."""
        from ray.exceptions import RayActorError

        slot = self.slots[i]
        try:
            answer = self.ray.get(slot.pending)
        except RayActorError as exc:  # the actor, its process or its node is gone
            if not slot.ready:
                self._failed_start(exc)  # its node went away while it started
            else:
                self._lost_task(slot, exc, items)
            self.replace(i)
            return
        if not slot.ready:
            slot.ready = True
        elif slot.item is not None:  # a ready slot is waited on only while it holds a task
            self.hooks.answer(slot.item, answer)
            slot.item = None

    def _failed_start(self, exc: RayActorError) -> None:
        self.starts += 1
        if exc.actor_init_failed or self.starts > START_RETRIES * len(self.slots):
            raise RunError(f"an actor could not start: {_cause(exc)}") from None

    def _lost_task(self, slot: _Slot[T], exc: RayActorError, items: deque[T]) -> None:
        """The task goes to the front of the queue, or after too many losses is given up."""
        item = slot.item
        if item is None:
            return
        name = self.hooks.name(item)
        self.lost[name] = self.lost.get(name, 0) + 1
        if self.lost[name] < MAX_ATTEMPTS:
            items.appendleft(item)  # another actor takes it next
            print(f"{self.hooks.who}: {name} was lost with its actor "
                  f"({_cause(exc)}); it runs again on another", file=sys.stderr)
        else:
            self.hooks.gave_up(item, f"lost with its actor {self.lost[name]} times "
                                     f"({_cause(exc)})",
                               time.monotonic() - slot.since, slot.attempt)

    def check_clock(self, i: int) -> None:
        """Slot ``i`` is still out: a task past its time is given up and its actor replaced; a
        run whose actors all fail to start within the limit stops."""
        slot = self.slots[i]
        elapsed = time.monotonic() - slot.since
        if slot.item is not None and elapsed > self.hooks.timeout_s:
            self.hooks.timed_out(slot.item, elapsed, slot.attempt)
            self.replace(i)
        elif not slot.ready and elapsed > START_LIMIT_S and not any(s.ready for s in self.slots):
            # (a replacement that cannot be placed, e.g. its node is gone, is harmless
            # while other actors work)
            raise RunError(f"an actor did not start within {START_LIMIT_S:g} s (is the "
                           "cluster large enough for --actors?)")

    def close(self) -> None:
        """Idle actors close their locators (briefly waited for); then every actor is killed."""
        from ray.exceptions import GetTimeoutError, RayActorError

        closing = [s.actor.close.remote() for s in self.slots if s.ready and s.item is None]
        with contextlib.suppress(GetTimeoutError, RayActorError):
            self.ray.get(closing, timeout=CLOSE_GRACE_S)
        for slot in self.slots:
            self.ray.kill(slot.actor, no_restart=True)


def drive(ray, items: deque[T], make: Callable[[str | None], Any], servers: list,
           count: int, hooks: Hooks[T]) -> Iterator[None]:
    """The actor pool: ``count`` actors made by ``make(server)``, each sent its next task when
    it answered the last; an actor lost mid-task is replaced and its task goes to the front of
    the queue, up to :data:`~.results.MAX_ATTEMPTS` losses. Yields after every round of waiting
    (a caller writes what came back), and kills its actors when it ends or is closed."""
    pool = _ActorPool(ray, make, servers, count, hooks)
    try:
        while items or pool.busy():
            pool.dispatch(items)
            done = pool.finished()
            for i, slot in enumerate(pool.slots):
                if slot.pending in done:
                    pool.receive(i, items)
                else:
                    pool.check_clock(i)
            yield
    finally:
        pool.close()


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return next((line.strip() for line in reversed(text) if line.strip()), type(exc).__name__)[:300]

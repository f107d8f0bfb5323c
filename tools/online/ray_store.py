"""The online store of a Ray cluster: one actor that every eval actor on every node talks to.

:class:`~.store.OnlineStore` (one SQLite file) coordinates the processes of one machine; actors
on several machines need one place that they all reach. That place is a Ray actor pinned to the
driver's node which wraps the driver's own :class:`OnlineStore`: the response cache stays the
persistent SQLite file the single-machine runs use (warm from earlier runs, warm for later ones),
and the rate-limit slots stay SQLite's ``IMMEDIATE`` reservations, now made for the whole cluster
(a Ray actor runs one method at a time, and local runs on the head machine still queue with it).

A wait is computed on the actor's clock and returned as seconds (:meth:`StoreActor.wait_for`), so
clocks that disagree between nodes cannot break a limit. A 429 seen by any actor pushes the
provider's next slot back for everyone (:meth:`RayStore.penalise`): the cluster slows, not one
worker. :class:`RayStore` has the interface of :class:`OnlineStore` (``get``, ``put``, ``count``,
``reserve``, ``wait_turn``, ``penalise``), so :class:`~.client.OnlineClient` takes either.
"""

from __future__ import annotations

import time
from collections.abc import Callable

STORE_ACTOR = "sinoloc-online-store"
NAMESPACE = "sinoloc"


class StoreActor:
    """The cluster's store (made a Ray actor by :func:`start_store`)."""

    def __init__(self, path: str | None = None):
        from sinoloc.tools.online.store import OnlineStore, default_store_path

        self.store = OnlineStore(path or default_store_path())

    def get(self, provider: str, query: str, ttl_s: float):
        return self.store.get(provider, query, ttl_s)

    def put(self, provider: str, query: str, value) -> None:
        self.store.put(provider, query, value)

    def count(self, provider: str | None = None) -> int:
        return self.store.count(provider)

    def wait_for(self, provider: str, interval_s: float) -> float:
        """Reserve the provider's next slot; the seconds until it starts, on this clock."""
        return self.store.reserve(provider, interval_s) - self.store.clock()

    def penalise(self, provider: str, seconds: float) -> float:
        return self.store.penalise(provider, seconds)

    def ping(self) -> bool:
        return True


STORE_ATTEMPTS = 6  # a store being torn down as a new driver starts is retried (~5 s in all)


def start_store(path: str | None = None):
    """The cluster's store actor, created on this (the driver's) node if it is not running;
    it lives as long as the driver's job. Needs ``ray.init`` first."""
    import ray
    from ray.exceptions import RayActorError
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    for attempt in range(STORE_ATTEMPTS):
        actor = ray.remote(StoreActor).options(
            name=STORE_ACTOR, namespace=NAMESPACE, get_if_exists=True, num_cpus=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote(path)
        try:
            # Ray types the handle as ActorHandle | type[StoreActor], so an undecorated method
            # reads as the plain function; the handle's methods have .remote at run time.
            ray.get(actor.ping.remote())  # type: ignore[attr-defined]
            return actor
        except RayActorError:
            # the previous driver's store, found by name while it is being torn down (its
            # job ended): wait for the name to be released, then create a fresh one
            if attempt == STORE_ATTEMPTS - 1:
                raise
            time.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


class RayStore:
    """An :class:`~.store.OnlineStore` look-alike whose state lives in the cluster's actor."""

    def __init__(self, actor=None, *, sleep: Callable[[float], None] = time.sleep):
        import ray

        self.actor = actor or ray.get_actor(STORE_ACTOR, namespace=NAMESPACE)
        self.sleep = sleep

    def _call(self, method: str, *args):
        import ray

        return ray.get(getattr(self.actor, method).remote(*args))

    def get(self, provider: str, query: str, ttl_s: float) -> dict | list | None:
        return self._call("get", provider, query, ttl_s)

    def put(self, provider: str, query: str, value: dict | list) -> None:
        self._call("put", provider, query, value)

    def count(self, provider: str | None = None) -> int:
        return self._call("count", provider)

    def reserve(self, provider: str, interval_s: float) -> float:
        """When this caller's slot starts, on this machine's clock."""
        return time.time() + self._call("wait_for", provider, interval_s)

    def wait_turn(self, provider: str, interval_s: float) -> float:
        """Block until this caller's slot anywhere in the cluster; the seconds waited."""
        if interval_s <= 0:
            return 0.0
        wait = self._call("wait_for", provider, interval_s)
        if wait > 0:
            self.sleep(wait)
        return max(wait, 0.0)

    def penalise(self, provider: str, seconds: float) -> float:
        """No slot for anyone before ``seconds`` from now (a 429's retry-after)."""
        return self._call("penalise", provider, seconds)

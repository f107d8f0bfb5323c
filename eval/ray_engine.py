"""``eval run --engine ray``: the images of a run as tasks for actors on a Ray cluster.

The driver (the ``sinoloc eval run`` process) keeps every promise of :mod:`.runner`: it holds the
run directory's lock, it alone appends and fsyncs the rows, it writes ``run.json`` and it
answers ``--resume``; this module only replaces the pool of worker processes. Each actor builds
its :class:`~.worker.Evaluator` once (models loaded once per actor) and locates one image at a
time under the same leak guards as a local worker (a neutral copy, EXIF ignored, the truth
attached after the prediction). The driver sends an actor its next image only when it has
answered the last, so a per-image timeout is measured from the send: past it, the actor is killed
and replaced and the image gets the runner's timeout row.

An actor lost with its node (or killed by the OS) loses no row and repeats none: its image goes
back to the front of the queue for another actor, up to :data:`~.results.MAX_ATTEMPTS` losses,
after which the image gets an ``infrastructure`` row that ``--resume`` retries. A driver killed
mid-run takes its actors with it (they belong to its job); ``--resume`` continues from the rows
on disk like any run. The images are read by path on the actor's node: on a cluster of several
machines the dataset must be at the same path on every node (a shared file system).

Every actor shares one online store (:mod:`sinoloc.tools.online.ray_store`), so the response
cache and the providers' rate limits hold for the whole cluster, and ``model_rate`` limits the
model's requests per second across all actors. ``servers`` spreads the actors round robin over
several OpenAI-compatible servers (replicas of one model, e.g. vLLM on GPU nodes): the
client-side concurrency per server is the number of actors given to it.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, Field

from sinoloc.eval.datasets import LabelledImage
from sinoloc.eval.results import MAX_ATTEMPTS, ResultRow
from sinoloc.eval.run_config import RunConfig
from sinoloc.tools.privacy import is_loopback_host

if TYPE_CHECKING:  # Ray is optional: imported where it is used
    from ray.exceptions import RayActorError

INSTALL_HINT = "the Ray engine needs Ray: pip install 'sinoloc[ray]'"
START_LIMIT_S = 900.0  # as for a local worker: loading a model can take minutes
CLOSE_GRACE_S = 5.0
START_RETRIES = 3  # per actor: nodes lost while actors start, before the run gives up
POLL_S = 0.5
# Ray's own switch (meant for laptops): node addresses stay 127.0.0.1 instead of the address
# other machines would use, so a local cluster is reachable from this machine only
LOOPBACK_ONLY = ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
T = TypeVar("T")  # a task of the actor pool: an eval image, or a ``locate`` batch image


class RayOptions(BaseModel):
    """How a run uses the cluster (not part of what it predicts: a resumed run may change it)."""

    address: str | None = Field(default=None, description=(
        "auto: the running cluster; HOST:PORT or ray://…: that one; None: a local cluster "
        "started for this run (loopback only)"))
    actors: int = Field(default=2, ge=1)
    servers: list[str] = Field(default_factory=list, description=(
        "OpenAI-compatible base URLs the actors are spread over (replaces the config's "
        "base_url per actor)"))
    model_rate: float | None = Field(default=None, gt=0, description=(
        "model requests per second across all actors"))
    actor_cpus: float | None = Field(default=None, gt=0, description=(
        "CPUs reserved per actor; default: the cluster's CPUs shared out, at most 1 each"))


def require_ray(loopback: bool = False):
    """Ray, or a :class:`~.runner.RunError` that says how to install it. ``loopback``: this
    process will start a local cluster, which must bind 127.0.0.1 (Ray otherwise swaps a loopback
    address for the machine's own; its switch is read when Ray is imported)."""
    if loopback and "ray" not in sys.modules:
        os.environ.setdefault(*LOOPBACK_ONLY)
    try:
        import ray
    except ImportError:
        from sinoloc.eval.runner import RunError

        raise RunError(INSTALL_HINT) from None
    return ray


def on_loopback(address: str | None) -> bool:
    """A local cluster is started (no address) or joined on 127.0.0.1 / localhost."""
    if address is None:
        return True
    return is_loopback_host(address.removeprefix("ray://").rsplit(":", 1)[0])


def connect(options: RayOptions):
    """Join (or, without an address, start) the cluster; the privacy settings of
    :mod:`sinoloc.tools.privacy` are in this process's environment, and a local cluster is
    passed them too and binds to 127.0.0.1 only."""
    ray = require_ray(loopback=on_loopback(options.address))
    if ray.is_initialized():
        return ray
    from sinoloc.tools.privacy import TELEMETRY_OFF, disable_telemetry

    disable_telemetry()
    env = {"env_vars": {name: value for name, value in TELEMETRY_OFF.items()}}
    if options.address is None:
        # "local": a new cluster even when one runs on this machine (ray.init() would join it)
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1",
                 runtime_env=env, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=options.address, runtime_env=env, log_to_driver=False,
                 configure_logging=False)
    return ray


class EvalActor:
    """One warm locator on a cluster node (made a Ray actor by :func:`_actor_class`)."""

    def __init__(self, config_json: str, tmp_root: str | None, store_actor, model_rate: float | None):
        from sinoloc.eval.run_config import build_locator
        from sinoloc.eval.worker import Evaluator
        from sinoloc.tools.online.ray_store import RayStore
        from sinoloc.tools.online.services import use_store

        config = RunConfig.model_validate_json(config_json)
        store = RayStore(store_actor)
        use_store(store)  # geocoders and web search: the cluster's cache and limits
        locator = build_locator(config)
        if model_rate and config.llm:
            from sinoloc.agent.llm.rate_limit import ModelRateLimit

            locator = _WithCallbacks(locator, [ModelRateLimit(store, f"model:{config.llm}",
                                                              model_rate)])
        here = tmp_root if tmp_root and Path(tmp_root).is_dir() else None  # another machine
        self.evaluator = Evaluator(locator, config, here)

    def ready(self) -> bool:
        return True

    def locate(self, item_json: dict, attempt: int) -> dict:
        row = self.evaluator.locate(LabelledImage.model_validate(item_json), attempt)
        return row.model_dump(mode="json")

    def close(self) -> None:
        self.evaluator.close()


class _WithCallbacks:
    """A locator whose every request carries LangChain callbacks (the model's rate limit)."""

    def __init__(self, locator, callbacks: list):
        self.locator, self.callbacks = locator, callbacks

    def locate(self, image, **options):
        return self.locator.locate(image, config={"callbacks": self.callbacks}, **options)


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


def _actor_class(ray, cpus: float, target: type = EvalActor):
    return ray.remote(target).options(num_cpus=cpus, max_restarts=0, max_concurrency=1,
                                      scheduling_strategy="SPREAD")


def actor_cpus(ray, options: RayOptions) -> float:
    """The CPUs each actor reserves: the cluster's shared out, at most one (an OCR-bound actor
    uses one core; a model-bound one waits on the network and needs a fraction)."""
    if options.actor_cpus:
        return options.actor_cpus
    total = ray.cluster_resources().get("CPU", 1.0)
    return max(0.01, min(1.0, math.floor(100 * total / options.actors) / 100))


class RayEngine:
    """The runner's engine hook (``run(..., engine=RayEngine(options))``): called with the
    images left, their attempt numbers, the config, the runner's row writer and its temp root."""

    def __init__(self, options: RayOptions):
        self.options = options
        where = options.address or "a local cluster on 127.0.0.1"
        self.note = (f"engine ray: {options.actors} actors on {where}"
                     + (f" over {len(options.servers)} servers" if options.servers else "")
                     + (f", model limited to {options.model_rate:g} requests/s"
                        if options.model_rate else ""))

    def __call__(self, items: deque, attempts: dict[str, int], config: RunConfig,
                 write: Callable[[ResultRow], None], tmp_root: str) -> None:
        _run_on_ray(items, attempts, config, write, tmp_root, self.options)


@dataclass
class _Hooks(Generic[T]):
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
    """What :func:`_drive` keeps between rounds: the slots, each task's losses and the actors
    lost before they were ready; one method per thing that can happen to a slot."""

    def __init__(self, ray, make: Callable[[str | None], Any], servers: list, count: int,
                 hooks: _Hooks[T]):
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
        from sinoloc.eval.runner import RunError

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
        from sinoloc.eval.runner import RunError

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


def _drive(ray, items: deque[T], make: Callable[[str | None], Any], servers: list,
           count: int, hooks: _Hooks[T]) -> Iterator[None]:
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


def _run_on_ray(items: deque, attempts: dict[str, int], config: RunConfig, write,
                tmp_root: str, options: RayOptions) -> None:
    from sinoloc.eval.runner import _failed_row as failed_row
    from sinoloc.eval.runner import timeout_row

    if not items:
        return
    ray = connect(options)
    from sinoloc.tools.online.ray_store import start_store

    store = start_store()
    cls = _actor_class(ray, actor_cpus(ray, options))

    def make(server: str | None):
        own = config.model_copy(update={"base_url": server}) if server else config
        return cls.remote(own.model_dump_json(), tmp_root, store, options.model_rate)

    hooks = _Hooks[LabelledImage](
        payload=lambda item: item.model_dump(mode="json"), name=lambda item: item.id,
        attempt=lambda item: attempts.get(item.id, 1),
        answer=lambda item, answer: write(ResultRow.model_validate(answer)),
        gave_up=lambda item, why, seconds, attempt: write(failed_row(
            item, "error", why, seconds, "infrastructure", attempt)),
        timed_out=lambda item, elapsed, attempt: write(timeout_row(item, config, elapsed, attempt)),
        timeout_s=config.timeout_s, who="sinoloc eval")
    for _ in _drive(ray, items, make, options.servers or [None], min(options.actors, len(items)),
                    hooks):
        pass


class LocateActor:
    """One warm locator for ``sinoloc locate --engine ray``: built from the driver's
    :class:`~sinoloc.agent.commands.batch.BatchSettings`, so every image is located as the local engine
    would, and answering :class:`~sinoloc.agent.commands.batch.BatchRow` dicts."""

    def __init__(self, settings_json: str, store_actor):
        from sinoloc.agent.commands.batch import BatchSettings
        from sinoloc.tools.online.ray_store import RayStore
        from sinoloc.tools.online.services import use_store

        use_store(RayStore(store_actor))  # geocoders and web search: the cluster's cache and limits
        self._locate = BatchSettings.model_validate_json(settings_json).locate_function()

    def ready(self) -> bool:
        return True

    def locate(self, path: str, attempt: int) -> dict:
        from sinoloc.agent.commands.batch import locate_one

        return locate_one(Path(path), self._locate).model_dump(mode="json")

    def close(self) -> None:
        pass


def ray_locate_many(paths: list[Path], settings_json: str, options: RayOptions) -> Iterator[dict]:
    """``sinoloc locate --engine ray``: one :class:`~sinoloc.agent.commands.batch.BatchRow` dict per path,
    in input order (answers that come early wait for those before them), from ``options.actors``
    actors that each keep a warm locator. An image whose actor is lost runs again on another, up
    to :data:`~.results.MAX_ATTEMPTS` losses, then is an error row; the caller writes the rows."""
    items = deque(enumerate(str(p) for p in paths))
    if not items:
        return
    ray = connect(options)
    from sinoloc.tools.online.ray_store import start_store

    store = start_store()
    cls = _actor_class(ray, actor_cpus(ray, options), LocateActor)
    answers: dict[int, dict] = {}

    def keep(item, answer: dict) -> None:
        answers[item[0]] = answer

    hooks = _Hooks[tuple[int, str]](
        payload=lambda item: item[1], name=lambda item: item[1], attempt=lambda item: 1,
        answer=keep,
        gave_up=lambda item, why, seconds, attempt: keep(item, {"file": item[1], "error": why}),
        timed_out=lambda item, elapsed, attempt: None)  # no limit: max_seconds holds
    following = 0
    for _ in _drive(ray, items, lambda server: cls.remote(settings_json, store), [None],
                    min(options.actors, len(items)), hooks):
        while following in answers:
            yield answers.pop(following)
            following += 1


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return next((line.strip() for line in reversed(text) if line.strip()), type(exc).__name__)[:300]

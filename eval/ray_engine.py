"""``eval run --engine ray``: the images of a run as tasks for actors on a Ray cluster.

The driver (the ``sinoloc eval run`` process) keeps every promise of :mod:`.runner`: it holds the
run directory's lock, it alone appends and fsyncs the rows, it writes ``run.json`` and it
answers ``--resume``; this module only replaces the pool of worker processes. It holds what is
Ray's: joining or starting the cluster, the actors and the two entry points (a run's engine,
``locate --engine ray``); the scheduling of tasks on the actors is :mod:`.ray_pool`'s. Each actor
builds its :class:`~.worker.Evaluator` once (models loaded once per actor) and locates one image
at a time under the same leak guards as a local worker (a neutral copy, EXIF ignored, the truth
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

import math
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from sinoloc.eval.datasets import LabelledImage
from sinoloc.eval.failures import RunError, failed_row, timeout_row
from sinoloc.eval.ray_pool import Hooks, drive
from sinoloc.eval.results import ResultRow
from sinoloc.eval.run_config import RunConfig
from sinoloc.tools.privacy import is_loopback_host

INSTALL_HINT = "the Ray engine needs Ray: pip install '.[ray]' in the sinoloc clone"
# Ray's own switch (meant for laptops): node addresses stay 127.0.0.1 instead of the address
# other machines would use, so a local cluster is reachable from this machine only
LOOPBACK_ONLY = ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


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
    """Ray, or a :class:`~.failures.RunError` that says how to install it. ``loopback``: this
    process will start a local cluster, which must bind 127.0.0.1 (Ray otherwise swaps a loopback
    address for the machine's own; its switch is read when Ray is imported)."""
    if loopback and "ray" not in sys.modules:
        os.environ.setdefault(*LOOPBACK_ONLY)
    try:
        import ray
    except ImportError:
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


def _run_on_ray(items: deque, attempts: dict[str, int], config: RunConfig, write,
                tmp_root: str, options: RayOptions) -> None:
    if not items:
        return
    ray = connect(options)
    from sinoloc.tools.online.ray_store import start_store

    store = start_store()
    cls = _actor_class(ray, actor_cpus(ray, options))

    def make(server: str | None):
        own = config.model_copy(update={"base_url": server}) if server else config
        return cls.remote(own.model_dump_json(), tmp_root, store, options.model_rate)

    hooks = Hooks[LabelledImage](
        payload=lambda item: item.model_dump(mode="json"), name=lambda item: item.id,
        attempt=lambda item: attempts.get(item.id, 1),
        answer=lambda item, answer: write(ResultRow.model_validate(answer)),
        gave_up=lambda item, why, seconds, attempt: write(failed_row(
            item, "error", why, seconds, "infrastructure", attempt)),
        timed_out=lambda item, elapsed, attempt: write(timeout_row(item, config, elapsed, attempt)),
        timeout_s=config.timeout_s, who="sinoloc eval")
    for _ in drive(ray, items, make, options.servers or [None], min(options.actors, len(items)),
                    hooks):
        pass


class LocateActor:
    """One warm locator for ``sinoloc locate --engine ray``: built from the driver's
    :class:`~sinoloc.agent.batch.BatchSettings`, so every image is located as the local engine
    would, and answering :class:`~sinoloc.agent.batch.BatchRow` dicts."""

    def __init__(self, settings_json: str, store_actor):
        from sinoloc.agent.batch import BatchSettings
        from sinoloc.tools.online.ray_store import RayStore
        from sinoloc.tools.online.services import use_store

        use_store(RayStore(store_actor))  # geocoders and web search: the cluster's cache and limits
        self._locate = BatchSettings.model_validate_json(settings_json).locate_function()

    def ready(self) -> bool:
        return True

    def locate(self, path: str, attempt: int) -> dict:
        from sinoloc.agent.batch import locate_one

        return locate_one(Path(path), self._locate).model_dump(mode="json")

    def close(self) -> None:
        pass


def ray_locate_many(paths: list[Path], settings_json: str, options: RayOptions) -> Iterator[dict]:
    """``sinoloc locate --engine ray``: one :class:`~sinoloc.agent.batch.BatchRow` dict per path,
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

    hooks = Hooks[tuple[int, str]](
        payload=lambda item: item[1], name=lambda item: item[1], attempt=lambda item: 1,
        answer=keep,
        gave_up=lambda item, why, seconds, attempt: keep(item, {"file": item[1], "error": why}),
        timed_out=lambda item, elapsed, attempt: None)  # no limit: max_seconds holds
    following = 0
    for _ in drive(ray, items, lambda server: cls.remote(settings_json, store), [None],
                    min(options.actors, len(items)), hooks):
        while following in answers:
            yield answers.pop(following)
            following += 1

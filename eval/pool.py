"""The pool of worker processes that locates a run's images (``sinoloc eval run --workers N``).

Workers are separate processes (``spawn``, so that each starts clean), each sent its next image
when it answered the last; a hung image is killed at the per-image timeout and its worker is
replaced, a worker that dies mid-image leaves an ``infrastructure`` row that ``--resume`` retries.
The pool only locates: :mod:`.runner` holds the run directory and writes every row it is given.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import wait

from sinoloc.eval.datasets import LabelledImage
from sinoloc.eval.failures import RunError, failed_row, timeout_row
from sinoloc.eval.results import ResultRow
from sinoloc.eval.run_config import RunConfig

WORKER_START_LIMIT_S = 900.0  # loading a local model can take minutes
STOP_GRACE_S = 5.0  # a worker asked to stop is killed after this


@contextlib.contextmanager
def _spawn_without_sigint():
    """A Ctrl-C is sent to the whole process group: block it while a worker is started, so the
    child starts with it blocked (it then ignores it) and this process gets it afterwards."""
    main = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, main)


class _Worker:
    def __init__(self, context, config_json: str, tmp_root: str):
        from sinoloc.eval.worker import serve

        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(config_json, child, tmp_root),
                                       daemon=True)
        with _spawn_without_sigint():
            self.process.start()
        child.close()
        self.item: LabelledImage | None = None
        self.attempt = 1
        self.since = time.monotonic()
        self.ready = False

    def send(self, item: LabelledImage, attempt: int) -> None:
        self.item, self.attempt, self.since = item, attempt, time.monotonic()
        self.conn.send({"item": item.model_dump(mode="json"), "attempt": attempt})

    def stop(self, grace: float = 0.0) -> None:
        if grace and self.process.is_alive():
            self.process.join(grace)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(STOP_GRACE_S)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(STOP_GRACE_S)
        self.conn.close()


class _ProcessPool:
    """What :func:`process_pool` keeps between rounds: the worker processes (spawned, so that a worker
    starts clean) and what a row is written through; one method per thing that can happen to a
    worker."""

    def __init__(self, config: RunConfig, count: int, write: Callable[[ResultRow], None],
                 tmp_root: str):
        self.context = multiprocessing.get_context("spawn")
        self.config, self.write, self.tmp_root = config, write, tmp_root
        self.config_json = config.model_dump_json()
        self.workers = [self._spawn() for _ in range(count)]

    def _spawn(self) -> _Worker:
        return _Worker(self.context, self.config_json, self.tmp_root)

    def busy(self) -> bool:
        return any(w.item for w in self.workers)

    def dispatch(self, items: deque[LabelledImage], attempts: dict[str, int]) -> None:
        """Every ready, idle worker takes the next image."""
        for worker in self.workers:
            if worker.ready and worker.item is None and items:
                item = items.popleft()
                worker.send(item, attempts.get(item.id, 1))

    def wait_round(self) -> set:
        """The pipes and process sentinels that have something to say (within half a second)."""
        waitables = [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers]
        return set(wait(waitables, timeout=0.5))

    def receive(self, worker: _Worker) -> bool:
        """Read the worker's message (ready, a row, or why it cannot start); True when its pipe
        is closed (the worker is gone)."""
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            message = None
        if message is None:
            return True
        if "fatal" in message:
            raise RunError(f"a worker could not start: {message['fatal']}")
        if "ready" in message:
            worker.ready = True
        else:
            self.write(ResultRow.model_validate(message))
            worker.item = None
        return False

    def replace_dead(self, i: int) -> None:
        """Worker ``i`` died: its image (if any) gets an infrastructure row, retried by
        ``--resume``; a worker that dies while starting stops the run."""
        worker = self.workers[i]
        worker.stop()
        if worker.item is not None:  # the OS (or a user) killed it mid-image
            self.write(failed_row(worker.item, "error", "the worker process died "
                                  f"(exit code {worker.process.exitcode})",
                                  time.monotonic() - worker.since, "infrastructure",
                                  worker.attempt))
        elif not worker.ready:
            raise RunError("a worker process died while starting "
                           f"(exit code {worker.process.exitcode})")
        self.workers[i] = self._spawn()

    def check_clock(self, i: int) -> None:
        """Worker ``i`` is alive and quiet: an image past its time gets a timeout row and the
        worker is replaced; a worker that has not started within the limit stops the run."""
        worker = self.workers[i]
        elapsed = time.monotonic() - worker.since
        if worker.item is not None and elapsed > self.config.timeout_s:
            self.write(timeout_row(worker.item, self.config, elapsed, worker.attempt))
            worker.item = None
            worker.stop()
            self.workers[i] = self._spawn()
        elif not worker.ready and elapsed > WORKER_START_LIMIT_S:
            raise RunError(f"a worker did not start within {WORKER_START_LIMIT_S:g} s")

    def close(self) -> None:
        """Idle workers are told to finish (and given a second); then every worker is stopped."""
        for worker in self.workers:
            if worker.ready and worker.item is None:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
        for worker in self.workers:
            worker.stop(grace=1.0 if worker.item is None else 0.0)


def process_pool(items: deque[LabelledImage], attempts: dict[str, int], config: RunConfig, workers: int,
          write: Callable[[ResultRow], None], tmp_root: str) -> None:
    """Worker processes, each sent its next image when it answered the last; a worker that dies
    or overruns the timeout is replaced."""
    pool = _ProcessPool(config, min(workers, len(items)), write, tmp_root)
    try:
        while items or pool.busy():
            pool.dispatch(items, attempts)
            ready = pool.wait_round()
            for i, worker in enumerate(pool.workers):
                if worker.conn in ready:
                    gone = pool.receive(worker)
                else:
                    gone = worker.process.sentinel in ready and not worker.process.is_alive()
                if gone:
                    pool.replace_dead(i)
                else:
                    pool.check_clock(i)
    finally:
        pool.close()

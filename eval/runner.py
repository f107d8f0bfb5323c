"""``sinoloc eval run``: locate every image of a dataset into a resumable run directory.

``runs/NAME/run.json`` records the dataset, the config and the code version of every session;
``runs/NAME/predictions.jsonl`` gets one row per image as it finishes. Workers are separate
processes (``spawn``), so a hung image is killed at the per-image timeout and its worker is
replaced; ``workers=0`` runs in this process (no hard timeout; the graph's own time budget
still applies).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
import time
from collections import deque
from datetime import UTC, datetime
from multiprocessing.connection import wait
from pathlib import Path

from pydantic import BaseModel, Field

from .datasets import LabelledImage
from .progress import Progress
from .results import ResultRow, ResultsLog
from .run_config import RunConfig, build_locator, code_version
from .worker import Evaluator

PREDICTIONS = "predictions.jsonl"
RUN_FILE = "run.json"
WORKER_START_LIMIT_S = 900.0  # loading a local model can take minutes


class RunError(RuntimeError):
    """The run cannot start or go on (a config mismatch, a worker that cannot start)."""


class Session(BaseModel):
    started: str
    finished: str | None = None
    rows_written: int = 0
    workers: int
    code: dict


class RunRecord(BaseModel):
    dataset: str
    dataset_sha256: str
    config: RunConfig
    skipped: dict[str, str] = Field(default_factory=dict, description="id → why not evaluated")
    sessions: list[Session] = Field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_record(run_dir: Path) -> RunRecord:
    path = run_dir / RUN_FILE
    if not path.exists():
        raise RunError(f"{run_dir}: not a run directory (no {RUN_FILE})")
    return RunRecord.model_validate_json(path.read_text(encoding="utf-8"))


def _save_record(run_dir: Path, record: RunRecord) -> None:
    tmp = run_dir / (RUN_FILE + ".tmp")
    tmp.write_text(record.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, run_dir / RUN_FILE)


def prepare(run_dir: Path, dataset: str, dataset_sha256: str, config: RunConfig,
            resume: bool) -> tuple[RunRecord, ResultsLog]:
    """Create the run directory, or reopen it for ``--resume`` after checking that the dataset
    and the config are the ones its rows were made with."""
    log = ResultsLog(run_dir / PREDICTIONS)
    if (run_dir / RUN_FILE).exists():
        if not resume:
            raise RunError(f"{run_dir} already holds a run; pass --resume to continue it or "
                           "choose another --out")
        record = load_record(run_dir)
        if record.config.comparable() != config.comparable():
            changed = sorted(k for k, v in config.comparable().items()
                             if record.config.comparable().get(k) != v)
            raise RunError(f"{run_dir} was run with a different config ({', '.join(changed)}); "
                           "use another --out")
        if record.dataset_sha256 != dataset_sha256:
            raise RunError(f"{run_dir} was run on a different version of the dataset")
        record.config = config  # the timeout may change between sessions
        log.repair()
        return record, log
    run_dir.mkdir(parents=True, exist_ok=True)
    record = RunRecord(dataset=dataset, dataset_sha256=dataset_sha256, config=config)
    return record, log


class _Worker:
    def __init__(self, context, config_json: str):
        from .worker import serve

        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(config_json, child), daemon=True)
        self.process.start()
        child.close()
        self.item: LabelledImage | None = None
        self.since = time.monotonic()
        self.ready = False

    def send(self, item: LabelledImage) -> None:
        self.item, self.since = item, time.monotonic()
        self.conn.send(item.model_dump(mode="json"))

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
        self.conn.close()


def _pool(items: deque, config: RunConfig, workers: int, write) -> None:
    context = multiprocessing.get_context("spawn")
    config_json = config.model_dump_json()
    pool = [_Worker(context, config_json) for _ in range(min(workers, len(items)))]
    try:
        while items or any(w.item for w in pool):
            for worker in pool:
                if worker.ready and worker.item is None and items:
                    worker.send(items.popleft())
            waitables = [w.conn for w in pool] + [w.process.sentinel for w in pool]
            ready = set(wait(waitables, timeout=0.5))
            for i, worker in enumerate(pool):
                replace = False
                if worker.conn in ready:
                    try:
                        message = worker.conn.recv()
                    except (EOFError, OSError):
                        message = None
                    if message is None:
                        replace = True
                    elif "fatal" in message:
                        raise RunError(f"a worker could not start: {message['fatal']}")
                    elif "ready" in message:
                        worker.ready = True
                    else:
                        write(ResultRow.model_validate(message))
                        worker.item = None
                elif worker.process.sentinel in ready and not worker.process.is_alive():
                    replace = True
                if replace:
                    if worker.item is not None:
                        write(_failed_row(worker.item, "error", "the worker process died "
                                          f"(exit code {worker.process.exitcode})",
                                          time.monotonic() - worker.since))
                    elif not worker.ready:
                        raise RunError("a worker process died while starting "
                                       f"(exit code {worker.process.exitcode})")
                    worker.stop()
                    pool[i] = _Worker(context, config_json)
                    continue
                elapsed = time.monotonic() - worker.since
                if worker.item is not None and elapsed > config.timeout_s:
                    write(_failed_row(worker.item, "timeout",
                                      f"no answer within {config.timeout_s:g} s", elapsed))
                    worker.item = None
                    worker.stop()
                    pool[i] = _Worker(context, config_json)
                elif not worker.ready and elapsed > WORKER_START_LIMIT_S:
                    raise RunError(f"a worker did not start within {WORKER_START_LIMIT_S:g} s")
    finally:
        for worker in pool:
            if worker.ready and worker.item is None:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
            worker.stop()


def _failed_row(item: LabelledImage, status: str, error: str, seconds: float) -> ResultRow:
    return ResultRow(id=item.id, status=status, error=error, seconds=round(seconds, 3),
                     truth=item.truth, attributes=item.attributes)


def run(items: list[LabelledImage], run_dir: Path, config: RunConfig, *, dataset: str,
        dataset_sha256: str, workers: int = 1, limit: int | None = None, resume: bool = False,
        locator=None, progress: bool | None = None) -> RunRecord:
    """Evaluate ``items`` into ``run_dir``; returns the run record. ``locator`` (in-process
    only) replaces the one built from the config, for embedding and tests."""
    record, log = prepare(run_dir, dataset, dataset_sha256, config, resume)
    usable = [i for i in items if i.usable]
    record.skipped = {i.id: "; ".join(p.message for p in i.problems if p.severity == "error")
                      for i in items if not i.usable}
    if limit is not None:
        usable = usable[:limit]
    done = {row.id for row in log.read()}
    todo = deque(i for i in usable if i.id not in done)
    session = Session(started=_now(), workers=workers, code=code_version())
    record.sessions.append(session)
    _save_record(run_dir, record)
    meter = Progress(total=len(usable), done=len(usable) - len(todo),
                     enabled=sys.stderr.isatty() if progress is None else progress)

    def write(row: ResultRow) -> None:
        log.append(row)
        session.rows_written += 1
        meter.step(row.status)

    try:
        if workers <= 0 or locator is not None:
            evaluator = Evaluator(locator or build_locator(config), config)
            try:
                while todo:
                    write(evaluator.locate(todo.popleft()))
            finally:
                evaluator.close()
        else:
            _pool(todo, config, workers, write)
    finally:
        session.finished = _now()
        _save_record(run_dir, record)
        meter.close()
    return record


def rows_of(run_dir: Path) -> list[ResultRow]:
    return ResultsLog(run_dir / PREDICTIONS).read()


def summary_line(record: RunRecord, rows: list[ResultRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return json.dumps({"rows": len(rows), **counts, "skipped": len(record.skipped)})

"""``sinoloc eval run``: locate every image of a dataset into a resumable run directory.

``runs/NAME/run.json`` records the dataset, the config and the code version of every session;
``runs/NAME/predictions.jsonl`` gets one row per image as it finishes; ``runs/NAME/record/``
every model and tool exchange as it happens (unless the config says not to; see
:mod:`sinoloc.agent.records`), which ``--replay`` answers a later run from. This module is the run's
driver (the directory, its record, resume, the rows); the images are located by a pool of worker
processes (:mod:`.pool`: a hung image is killed at the per-image timeout and its worker is
replaced), by Ray actors (:mod:`.ray_engine`), or with ``workers=0`` in this process (no hard
timeout; the graph's own time budget still applies). :class:`RunError` lives in :mod:`.failures`
with the rows of failed images, and is imported from here too.

One writer per directory: a run holds ``RUN_DIR/.lock`` (:mod:`.rundir_lock`) from before it
reads anything until its last record is written, and a second run refuses at once. A session's
record is saved when it starts, every few seconds while rows are written, and when it ends:
``outcome`` says ``complete``, ``interrupted`` (SIGTERM/SIGINT, with the signal), ``failed``, or
``killed`` (set by the next ``--resume``, which counts the rows the dead session really wrote
from the ``session`` field of each row). ``--resume`` also sets aside damaged lines and rows lost
to the machine (``error_kind: infrastructure``) so that those images run again.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from sinoloc.eval.datasets import LabelledImage
from sinoloc.eval.failures import RunError
from sinoloc.eval.interrupts import Interrupts, RunInterrupted
from sinoloc.eval.pool import process_pool
from sinoloc.eval.replay import prepare_record
from sinoloc.eval.results import ResultRow, ResultsLog, SetAside, atomic_write
from sinoloc.eval.run_config import RunConfig, build_locator, code_version
from sinoloc.eval.rundir_lock import RunDirBusy, RunDirLock
from sinoloc.eval.worker import Evaluator
from sinoloc.tools.progress import Progress

PREDICTIONS = "predictions.jsonl"
RUN_FILE = "run.json"
CHECKPOINT_S = 5.0  # run.json's rows_written is at most this old while a run is alive

Outcome = Literal["running", "complete", "interrupted", "failed", "killed"]


class Session(BaseModel):
    started: str
    finished: str | None = Field(default=None, description=(
        "when the session ended, completed or interrupted; null while running or when killed"))
    outcome: Outcome = "running"
    interrupted_by: str | None = Field(default=None, description="SIGTERM or SIGINT")
    error: str | None = None
    updated: str | None = Field(default=None, description="last time rows_written was saved")
    rows_written: int = 0
    set_aside: int = Field(default=0, description=(
        "lines this session's resume moved to predictions.rejected.jsonl"))
    workers: int
    code: dict
    temp_dir: str | None = None
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _older_records(cls, data):
        """Records written before ``outcome`` existed: a finished session completed, any other
        one was killed."""
        if isinstance(data, dict) and "outcome" not in data and "updated" not in data:
            data = {**data, "outcome": "complete" if data.get("finished") else "killed"}
        return data


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
    atomic_write(run_dir / RUN_FILE, record.model_dump_json(indent=2).encode())


def _clear_leftovers(run_dir: Path, record: RunRecord, log: ResultsLog) -> None:
    """Under the lock, whatever a dead session left: its sessions' state, temporary files."""
    rows, _ = log.scan()
    written = Counter(row.session for _, _, row in rows)
    for index, session in enumerate(record.sessions):
        if session.outcome != "running":
            continue  # (a "running" session is dead: we hold the lock)
        session.outcome = "killed"
        if index in written:
            session.rows_written = written[index]
            session.note = (f"killed without clean-up; rows_written counted from {PREDICTIONS} "
                            f"at {_now()}")
        else:
            session.note = "killed without clean-up; rows_written as last saved"
        if session.temp_dir:
            shutil.rmtree(session.temp_dir, ignore_errors=True)
    for stale in run_dir.glob(".*.tmp"):  # an atomic write cut short
        stale.unlink(missing_ok=True)


def _next_attempts(log: ResultsLog) -> dict[str, int]:
    """The attempt number the next row of each id that will be retried gets."""
    rows, _ = log.scan()
    return {row.id: row.attempt + 1 for _, _, row in rows if row.retryable}


def prepare(run_dir: Path, dataset: str, dataset_sha256: str, config: RunConfig,
            resume: bool) -> tuple[RunRecord, ResultsLog, list[SetAside], dict[str, int]]:
    """Create the run directory, or reopen it for ``--resume`` after checking that the dataset
    and the config are the ones its rows were made with; the caller holds the lock. Returns the
    record, the log, what the repair set aside and the attempt numbers of retried ids."""
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
        _clear_leftovers(run_dir, record, log)
        attempts = _next_attempts(log)
        return record, log, log.repair(), attempts
    run_dir.mkdir(parents=True, exist_ok=True)
    record = RunRecord(dataset=dataset, dataset_sha256=dataset_sha256, config=config)
    return record, log, [], {}


def run(items: list[LabelledImage], run_dir: Path, config: RunConfig, *, dataset: str,
        dataset_sha256: str, workers: int = 1, limit: int | None = None, resume: bool = False,
        locator=None, progress: bool | None = None, lock: RunDirLock | None = None,
        engine=None) -> RunRecord:
    """Evaluate ``items`` into ``run_dir``; returns the run record. ``locator`` (in-process
    only) replaces the one built from the config, for embedding and tests; ``lock``, one the
    caller already holds on ``run_dir`` (the CLI takes it before its slow imports, so that a
    second run is refused at once; it is released here); ``engine``, a replacement for the pool
    of worker processes, ``engine(todo, attempts, config, write, tmp_root)`` (the Ray engine,
    :class:`.ray_engine.RayEngine`; this function still holds the lock and writes every row and
    the record). Raises :class:`RunError` when the
    directory is held by another run, and :class:`~.interrupts.RunInterrupted` after a clean
    stop on SIGTERM/SIGINT."""
    lock = lock or lock_run_dir(run_dir)
    try:
        with Interrupts() as interrupts:
            return _run_locked(items, run_dir, config, interrupts, dataset=dataset,
                               dataset_sha256=dataset_sha256, workers=workers, limit=limit,
                               resume=resume, locator=locator, progress=progress,
                               engine=engine)
    finally:
        lock.release()


def lock_run_dir(run_dir: Path) -> RunDirLock:
    """Hold ``run_dir`` for one run, or raise :class:`RunError` naming the holder."""
    try:
        return RunDirLock(run_dir).acquire()
    except RunDirBusy as exc:
        raise RunError(str(exc)) from None


def _run_locked(items, run_dir: Path, config: RunConfig, interrupts: Interrupts, *, dataset,
                dataset_sha256, workers, limit, resume, locator, progress,
                engine=None) -> RunRecord:
    with interrupts.critical():
        record, log, set_aside, attempts = prepare(run_dir, dataset, dataset_sha256, config,
                                                   resume)
        config = prepare_record(run_dir, config)  # the workers record into RUN_DIR/record
        usable = _usable(items, record, limit)
        done = {row.id for row in log.read()}
        todo = deque(i for i in usable if i.id not in done)
    index = len(record.sessions)
    session = Session(started=_now(), updated=_now(), outcome="running", workers=workers,
                      code=code_version(), set_aside=len(set_aside),
                      note=getattr(engine, "note", None))
    record.sessions.append(session)
    meter = Progress(total=len(usable), done=len(usable) - len(todo),
                     enabled=sys.stderr.isatty() if progress is None else progress)
    saved = time.monotonic()
    tmp_root: str | None = None

    def write(row: ResultRow) -> None:
        nonlocal saved
        with interrupts.critical():  # a row and its count, never one without the other
            log.append(row.model_copy(update={"session": index}))
            session.rows_written += 1
            if time.monotonic() - saved >= CHECKPOINT_S:
                session.updated = _now()
                _save_record(run_dir, record)
                saved = time.monotonic()
        meter.step(row.status)

    try:
        with interrupts.critical():
            tmp_root = session.temp_dir = tempfile.mkdtemp(prefix="sinoloc-eval-run-")
            _save_record(run_dir, record)
        _announce_set_aside(set_aside, log)
        if engine is not None and locator is None:
            engine(todo, attempts, config, write, tmp_root)
        elif workers <= 0 or locator is not None:
            _in_process(todo, attempts, config, locator, write, tmp_root)
        else:
            process_pool(todo, attempts, config, workers, write, tmp_root)
        session.outcome = "complete"
    except RunInterrupted as exc:
        session.outcome, session.interrupted_by = "interrupted", exc.name
        exc.rows_written = session.rows_written
        raise
    except BaseException as exc:
        session.outcome, session.error = "failed", f"{exc.__class__.__name__}: {exc}"
        raise
    finally:
        interrupts.ignore_further()  # the record below is written whatever arrives now
        if tmp_root:
            shutil.rmtree(tmp_root, ignore_errors=True)
        session.finished = session.updated = _now()
        _save_record(run_dir, record)
        meter.close()
    return record


def _usable(items: list[LabelledImage], record: RunRecord, limit: int | None
            ) -> list[LabelledImage]:
    """The images that can run (the first ``limit`` of them); the others are noted in the
    record with their errors."""
    usable = [i for i in items if i.usable]
    record.skipped = {i.id: "; ".join(p.message for p in i.problems if p.severity == "error")
                      for i in items if not i.usable}
    return usable[:limit] if limit is not None else usable


def _announce_set_aside(set_aside: list[SetAside], log: ResultsLog) -> None:
    for item in set_aside:
        print(f"sinoloc eval: set aside {log.path}:{item.line} ({item.reason}) into "
              f"{log.side_path.name}" + (f"; {item.id} runs again" if item.id else ""),
              file=sys.stderr)


def _in_process(todo: deque[LabelledImage], attempts: dict[str, int], config: RunConfig, locator,
                write: Callable[[ResultRow], None], tmp_root: str) -> None:
    """One image after another in this process (``--workers 0``, or a locator passed in)."""
    evaluator = Evaluator(locator or build_locator(config), config, tmp_root)
    try:
        while todo:
            item = todo.popleft()
            write(evaluator.locate(item, attempts.get(item.id, 1)))
    finally:
        evaluator.close()


def rows_of(run_dir: Path) -> list[ResultRow]:
    return ResultsLog(run_dir / PREDICTIONS).read()


def summary_line(record: RunRecord, rows: list[ResultRow]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    return json.dumps({"rows": len(rows), **counts, "skipped": len(record.skipped)})

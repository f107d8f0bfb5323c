"""Recording and replaying eval runs (the machinery is :mod:`sinoloc.agent.records`): the
recording a worker runs its images under, the record folder a run prepares, and the settings
a ``--replay`` run takes from the run it replays."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (the CLI's parser imports this module: nothing heavy at import)
    from sinoloc.agent.records import RunRecording
    from sinoloc.eval.run_config import RunConfig

RECORD_DIR = "record"  # as sinoloc.agent.records.RECORD_DIR
ON_MISS = ("stop", "live")  # as sinoloc.agent.records.ON_MISS
# the run's settings a record carries (no paths): a bare record folder replays with them
RECORDED_SETTINGS = {"llm", "max_tokens", "ocr_backend", "baseline", "disabled_tools", "verify",
                     "top_k", "max_model_calls", "max_tool_calls", "max_seconds",
                     "model_timeout_s", "offline"}


def image_hash(path: str | Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None  # the row says why; the record names the image by its id


def run_recording(config: RunConfig) -> RunRecording:
    """What a worker records to and replays from, as ``config`` says."""
    from sinoloc.agent.records import RunRecording

    return RunRecording(record_to=Path(config.record_dir) if config.record_dir else None,
                        replay_from=Path(config.replay) if config.replay else None,
                        on_miss=config.replay_miss)


def prepare_record(run_dir: Path, config: RunConfig) -> RunConfig:
    """Open ``RUN_DIR/record`` (a resumed run appends, a torn last line is cut) under the run's
    lock, before any worker starts; the config the workers get names it."""
    if not config.record:
        return config.model_copy(update={"record_dir": None})
    from sinoloc.agent.records import open_record
    from sinoloc.agent.records.recording import replay_source
    from sinoloc.eval.run_config import code_version

    backend = config.llm or "deterministic"
    if config.replay:
        backend = replay_source(config.replay).manifest.backend or backend
    code = {k: v for k, v in code_version().items() if k in ("sinoloc", "git_commit", "git_dirty")}
    folder = open_record(run_dir / RECORD_DIR, backend=backend, code=code,
                         settings=config.model_dump(mode="json", include=RECORDED_SETTINGS))
    return config.model_copy(update={"record_dir": str(folder)})


def add_replay_options(run) -> None:
    """``eval run``'s recording and replay options."""
    run.add_argument("--no-record", action="store_true", help=(
        "do not record the run's model and tool exchanges into RUN_DIR/record (recorded by "
        "default: `eval show`, `--replay` and regression tests read them)"))
    run.add_argument("--replay", type=Path, default=None, metavar="DIR", help=(
        "answer every model and tool call from the record of the run directory DIR, with its "
        "settings (or a bare record folder's): no model, no network, no cost; what changed "
        "since is the code"))
    run.add_argument("--replay-miss", choices=ON_MISS, default="stop", help=(
        "with --replay, a request the record lacks: stop: the image ends with status "
        "replay_miss and its first divergence; live: the live model and tools answer the rest "
        "of that image (the recorded model, at --base-url when given)"))


def show_steps(run: Path, image: str) -> list:
    """An image's recorded steps as stream chunks (``eval show``)."""
    from sinoloc.agent.records import load_record
    from sinoloc.agent.records.timeline import find_image, timeline

    record = load_record(run)
    return timeline(find_image(record, image), record)

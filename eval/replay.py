"""Recording and replaying eval runs (the machinery is :mod:`sinoloc.agent.records`): the
recording a worker runs its images under, the record folder a run prepares, and the settings
a ``--replay`` run takes from the run it replays."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sinoloc.agent.records import RECORD_DIR, RunRecording, open_record
from sinoloc.eval.run_config import RunConfig


def image_hash(path: str | Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None  # the row says why; the record names the image by its id


def run_recording(config: RunConfig) -> RunRecording:
    """What a worker records to and replays from, as ``config`` says."""
    return RunRecording(record_to=Path(config.record_dir) if config.record_dir else None,
                        replay_from=Path(config.replay) if config.replay else None,
                        on_miss=config.replay_miss)


def prepare_record(run_dir: Path, config: RunConfig) -> RunConfig:
    """Open ``RUN_DIR/record`` (a resumed run appends, a torn last line is cut) under the run's
    lock, before any worker starts; the config the workers get names it."""
    if not config.record:
        return config.model_copy(update={"record_dir": None})
    from sinoloc.agent.records.recording import replay_source
    from sinoloc.eval.run_config import code_version

    backend = config.llm or "deterministic"
    if config.replay:
        backend = replay_source(config.replay).manifest.backend or backend
    folder = open_record(run_dir / RECORD_DIR, backend=backend, code=code_version(),
                         settings=config.model_dump(mode="json", include={
                             "llm", "max_model_calls", "max_tool_calls", "max_seconds",
                             "disabled_tools", "verify", "offline", "top_k", "ocr_backend"}))
    return config.model_copy(update={"record_dir": str(folder)})


def replay_config(replayed: Path, *, replay_miss: str, record: bool, timeout_s: float) -> RunConfig:
    """The config of a run that replays ``replayed``: the recorded run's own settings (what
    changed since is the code), answered from its record."""
    from sinoloc.agent.records import load_record
    from sinoloc.eval.runner import load_record as load_run

    load_record(replayed)  # validated before any image: a damaged record names file and line
    recorded = load_run(replayed).config
    return recorded.model_copy(update={"replay": str(replayed.resolve() / RECORD_DIR),
                                       "replay_miss": replay_miss, "record": record,
                                       "record_dir": None, "timeout_s": timeout_s})

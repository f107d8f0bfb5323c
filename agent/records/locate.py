"""``sinoloc locate --record DIR`` and ``--replay DIR`` (options: :mod:`.options`): the policy
of a replay, and the locate function that runs each image inside its record session (images are
named by file name; a replay finds an image by its content hash, whatever its name now)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path

from sinoloc.agent.records.recording import RunRecording, file_sha256, replay_source
from sinoloc.agent.records.replay_model import replay_policy
from sinoloc.agent.records.session import ReplayMiss
from sinoloc.agent.records.writer import open_record


def recording_for(args: argparse.Namespace, policy):
    """The run's recording (None without --record/--replay) and the policy to run: with
    --replay, the recorded backend over the record (the live ``policy``, a model given with
    --llm, only for ``--replay-miss live``)."""
    llm_given = getattr(policy, "name", "deterministic") != "deterministic"
    if args.record is None and args.replay is None:
        return None, policy
    if args.replay is not None:
        record = replay_source(str(args.replay))
        live = policy if args.replay_miss == "live" and llm_given else None
        policy = replay_policy(record, live)
    if args.record is not None:
        open_record(args.record, backend=getattr(policy, "name", None))
    return RunRecording(record_to=args.record, replay_from=args.replay,
                        on_miss=args.replay_miss), policy


def recorded_by(recording: RunRecording | None):
    """A decorator: ``locate(image)`` run inside each image's session."""
    def wrap(locate: Callable[[Path], object]):
        return locate if recording is None else partial(_in_session, recording, locate)
    return wrap


def _in_session(recording: RunRecording, locate: Callable[[Path], object], image: Path):
    image = Path(image)
    with recording.image(image.name, file_sha256(image), image_dir=image.parent) as session:
        try:
            prediction = locate(image)
        except Exception as exc:
            status = "replay_miss" if isinstance(exc, ReplayMiss) else exc.__class__.__name__
            session.finish(status)
            raise
        session.finish("ok")
        return prediction


__all__ = ["recorded_by", "recording_for"]

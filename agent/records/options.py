"""The command-line options of recording and replay (light: the parser imports this)."""

from __future__ import annotations

import argparse
from pathlib import Path

ON_MISS = ("stop", "live")  # as sinoloc.agent.records.session.ON_MISS


def add_record_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", type=Path, default=None, metavar="DIR", help=(
        "record every model and tool exchange into DIR (a run record: `sinoloc eval show DIR "
        "IMAGE`, `--replay DIR`)"))
    add_replay_options(parser, (
        "answer every model and tool call from the record in DIR (a --record folder or an eval "
        "run directory): no model, no network"))


def add_replay_options(parser: argparse.ArgumentParser, replay_help: str,
                       what: str = "the image fails") -> None:
    """``--replay DIR`` (``replay_help`` says what it replays) and ``--replay-miss``."""
    parser.add_argument("--replay", type=Path, default=None, metavar="DIR", help=replay_help)
    parser.add_argument("--replay-miss", choices=ON_MISS, default="stop", help=(
        f"with --replay, a request the record lacks: stop ({what}, naming the first "
        "divergence) or live (the live model and tools answer the rest; give --llm)"))


def add_chat_record_options(parser: argparse.ArgumentParser) -> None:
    """``sinoloc chat``'s recording and replay (agent/records/threads.py, app/chat/replay.py)."""
    parser.add_argument("--record-dir", type=Path, default=None, metavar="DIR", help=(
        "record every run of the session (each image's locate run, each follow-up question, "
        "each review decision: every model and tool exchange) into DIR/THREAD_ID; "
        "`sinoloc chat --replay DIR/THREAD_ID IMAGE…` replays it, `sinoloc eval show "
        "DIR/THREAD_ID RUN` prints a run's steps"))
    add_replay_options(parser, (
        "replay the conversation recorded in DIR (a --record-dir DIR/THREAD_ID folder, or one of "
        "`sinoloc serve --record-dir`): each recorded image's run (give the IMAGE files; found "
        "by content hash) and each follow-up question and review decision in order, with the "
        "recorded session's settings, every model and tool call answered from the record: no "
        "model, no network; a thread store is not touched"), what="exit 1: the replay stops with one line")

"""The command-line options of recording and replay (light: the parser imports this)."""

from __future__ import annotations

import argparse
from pathlib import Path

ON_MISS = ("stop", "live")  # as sinoloc.agent.records.session.ON_MISS


def add_record_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--record", type=Path, default=None, metavar="DIR", help=(
        "record every model and tool exchange into DIR (a run record: `sinoloc eval show DIR "
        "IMAGE`, `--replay DIR`)"))
    parser.add_argument("--replay", type=Path, default=None, metavar="DIR", help=(
        "answer every model and tool call from the record in DIR (a --record folder or an eval "
        "run directory): no model, no network"))
    parser.add_argument("--replay-miss", choices=ON_MISS, default="stop", help=(
        "with --replay, a request the record lacks: stop (the image fails, naming the first "
        "divergence) or live (the live model and tools answer the rest; give --llm)"))

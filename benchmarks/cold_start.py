"""Cold ``sinoloc locate`` on a 2048x1024 panorama to its first answer, against bare Python.

    python -m sinoloc.benchmarks.cold_start [--panorama PANO.jpg] [--runs 5]

Each round starts ``python -c pass`` and then ``sinoloc locate PANO --json`` as fresh
processes, so both medians come from the same minutes of a shared machine (the load average is
printed beside them). Target (issue #21): ≤ 2.5 s to the first answer.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sinoloc.benchmarks.locate import synthetic_panorama


def _timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def cold_start(panorama: Path, runs: int) -> dict:
    cli = [sys.executable, "-m", "sinoloc.agent.commands.main", "locate", str(panorama), "--json"]
    bare = [sys.executable, "-c", "pass"]
    _timed(cli)  # page cache and the region index's on-disk cache: both warm, as for a user
    load_before = os.getloadavg()[0]
    python, locate = [], []
    for _ in range(runs):
        python.append(_timed(bare))
        locate.append(_timed(cli))
    return {"runs": runs, "locate_to_first_answer_median_s": round(statistics.median(locate), 3),
            "python_startup_median_s": round(statistics.median(python), 3),
            "locate_all_s": [round(t, 2) for t in locate],
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panorama", type=Path, help="default: a rendered 2048x1024 panorama")
    parser.add_argument("--runs", type=int, default=5, help="rounds (default: %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        panorama = args.panorama or synthetic_panorama(Path(tmp) / "pano.jpg")
        print(json.dumps(cold_start(panorama, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cold ``sinoloc locate`` on a 2048x1024 panorama to its first answer, against bare Python.

    python -m sinoloc.benchmarks.cold_start [--panorama PANO.jpg] [--runs 5]

Each round starts ``python -c pass`` and then ``sinoloc locate PANO --json`` as fresh
processes, so both medians come from the same minutes of a shared machine (the load average is
printed beside them, and the CPU seconds of each run, which load changes less than wall time).
Target (issue #21): ≤ 2.5 s to the first answer.

Bytecode is cached as for a user (pip compiles it; an editable install writes ``__pycache__``):
in a private ``PYTHONPYCACHEPREFIX``, so a ``PYTHONDONTWRITEBYTECODE=1`` environment does not
make every run compile sinoloc's hundred modules again and the checkout gets no cache files.
``--as-is`` keeps the environment unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sinoloc.benchmarks.locate import synthetic_panorama


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def cold_start(panorama: Path, runs: int, pycache: Path | None = None) -> dict:
    cli = [sys.executable, "-m", "sinoloc.app.cli.main", "locate", str(panorama), "--json"]
    bare = [sys.executable, "-c", "pass"]
    env = None
    if pycache is not None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    _timed(cli, env)  # page cache, bytecode and the region index's cache: warm, as for a user
    load_before = os.getloadavg()[0]
    python, locate, cpu = [], [], []
    for _ in range(runs):
        python.append(_timed(bare, env)[0])
        wall, seconds = _timed(cli, env)
        locate.append(wall)
        cpu.append(seconds)
    return {"runs": runs, "locate_to_first_answer_median_s": round(statistics.median(locate), 3),
            "python_startup_median_s": round(statistics.median(python), 3),
            "locate_all_s": [round(t, 2) for t in locate],
            "locate_cpu_median_s": round(statistics.median(cpu), 3),
            "bytecode": "as is" if pycache is None else "cached (private PYTHONPYCACHEPREFIX)",
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panorama", type=Path, help="default: a rendered 2048x1024 panorama")
    parser.add_argument("--runs", type=int, default=5, help="rounds (default: %(default)s)")
    parser.add_argument("--as-is", action="store_true", help=(
        "run in this environment as it is (with PYTHONDONTWRITEBYTECODE=1 every run compiles "
        "sinoloc from source)"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        panorama = args.panorama or synthetic_panorama(Path(tmp) / "pano.jpg")
        pycache = None if args.as_is else Path(tmp) / "pycache"
        print(json.dumps(cold_start(panorama, args.runs, pycache), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

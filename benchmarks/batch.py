"""Batch throughput: ``sinoloc locate DIR --json --out F`` as a fresh process, start-up included.

    python -m sinoloc.benchmarks.batch DIR [--runs 3] [--workers 1] [--reference-path PKGDIR]

Each round locates every image under DIR in a new process (region and town indexes cached, as
after a first run) and reports images per second from the wall time, the CPU seconds (user +
system, all threads: load changes them less than wall time) and the load average. With
``--reference-path`` (a directory whose ``sinoloc`` is another checkout, e.g. main) the same
rounds run that code too, interleaved, and the rows of both are compared: predictions must be
identical (timings aside). Target (issue #32): ≥ 5 images/s on 2 idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from sinoloc.benchmarks.cold_start import _timed


def _rows(path: Path) -> dict[str, dict]:
    """Rows by file name, without what changes from run to run (timings)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        row.pop("timings", None)
        for trace in row.get("tool_calls", []):
            trace.pop("seconds", None)
        out[Path(row.pop("file")).name] = row
    return out


def one_run(folder: Path, out: Path, pythonpath: str | None, workers: int) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    out.unlink(missing_ok=True)
    return _timed([sys.executable, "-m", "sinoloc.app.cli.main", "locate", str(folder), "--json",
                   "--out", str(out), "--workers", str(workers)], env)


_Times = dict[str, list[tuple[float, float]]]  # version → (wall, CPU) seconds of each round
_Rows = dict[str, dict[str, dict]]  # version → rows by file name


def _rounds(folder: Path, runs: int, workers: int, versions: dict[str, str | None]
            ) -> tuple[_Times, list[tuple[float, float, float]], _Rows]:
    """One warm-up run per version, then ``runs`` rounds interleaving the versions: the (wall, CPU)
    seconds of each run, the load average before and after the rounds, the rows of the last."""
    with tempfile.TemporaryDirectory() as name:
        outs = {v: Path(name) / f"{v}.jsonl" for v in versions}
        for version, path in versions.items():  # caches, bytecode, page cache: warm
            one_run(folder, outs[version], path, workers)
        load = [os.getloadavg()]
        times: _Times = {v: [] for v in versions}
        for _ in range(runs):
            for version, path in versions.items():
                times[version].append(one_run(folder, outs[version], path, workers))
        load.append(os.getloadavg())
        rows = {v: _rows(outs[v]) for v in versions}
    return times, load, rows


def _medians(images: int, timed: list[tuple[float, float]]) -> dict:
    """One version's median wall and CPU seconds, images per second, and every wall time."""
    wall = statistics.median(t[0] for t in timed)
    return {"wall_median_s": round(wall, 2), "images_per_s": round(images / wall, 2),
            "cpu_median_s": round(statistics.median(t[1] for t in timed), 2),
            "wall_all_s": [round(t[0], 2) for t in timed]}


def _against_reference(report: dict, rows: _Rows) -> None:
    """Add the reference's wall and CPU medians over this code's, and the rows that differ."""
    report["reference_wall_over_this"] = round(
        report["reference"]["wall_median_s"] / report["this"]["wall_median_s"], 2)
    report["reference_cpu_over_this"] = round(
        report["reference"]["cpu_median_s"] / report["this"]["cpu_median_s"], 2)
    report["rows_differing_from_reference"] = sorted(
        k for k in rows["this"] if rows["this"][k] != rows["reference"].get(k))


def batch(folder: Path, runs: int, workers: int, reference: str | None) -> dict:
    images = sum(1 for p in folder.rglob("*") if p.is_file())
    versions = {"this": os.environ.get("PYTHONPATH")}
    if reference is not None:
        versions["reference"] = reference
    times, load, rows = _rounds(folder, runs, workers, versions)
    report: dict = {"images": images, "workers": workers, "runs": runs}
    for version, timed in times.items():
        report[version] = _medians(images, timed)
    if reference is not None:
        _against_reference(report, rows)
    report["load_average_before_after"] = [[round(x, 2) for x in la] for la in load]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of images")
    parser.add_argument("--runs", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, help="locate --workers")
    parser.add_argument("--reference-path", help=(
        "PYTHONPATH of another checkout to time in the same rounds, rows compared"))
    args = parser.parse_args(argv)
    print(json.dumps(batch(args.folder, args.runs, args.workers, args.reference_path), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

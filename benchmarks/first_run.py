"""README command 1's first run: ``sinoloc locate --demo`` on a fresh home, then the first ``--map``.

    python -m sinoloc.benchmarks.first_run [--runs 3] [--reference-path DIR]

Each round gives a fresh, empty user cache directory (``XDG_CACHE_HOME``) to
``sinoloc locate --demo`` (which builds the region and town indexes), then runs
``sinoloc locate --demo --map F`` in the same cache (which builds the map outlines), then the
demo again with everything cached (the reference for the ratio). With ``--reference-path``
(a directory whose ``sinoloc`` is another checkout) the same rounds run that code too,
interleaved, so before and after share the minutes of a shared machine. Wall and CPU seconds
(user + system, all threads; load changes them less) and the load average are printed.
Target (issue #32): the first demo ≤ 10 s on 2 idle cores.
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


def _env(cache: Path, pycache: Path, pythonpath: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SINOLOC_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")}
    env["XDG_CACHE_HOME"] = str(cache)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)  # compiled once, as pip does for a user
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return env


def one_round(pythonpath: str | None, tmp: Path, pycache: Path) -> dict[str, tuple[float, float]]:
    cache = Path(tempfile.mkdtemp(dir=tmp, prefix="home-"))
    env = _env(cache, pycache, pythonpath)
    cli = [sys.executable, "-m", "sinoloc.app.cli.main", "locate", "--demo"]
    return {"first_demo": _timed(cli, env),
            "first_map": _timed([*cli, "--map", str(cache / "map.html")], env),
            "cached_demo": _timed(cli, env)}


def _summary(rounds: list[dict[str, tuple[float, float]]]) -> dict:
    out: dict = {}
    for key in rounds[0]:
        walls = [r[key][0] for r in rounds]
        out[key] = {"wall_median_s": round(statistics.median(walls), 2),
                    "cpu_median_s": round(statistics.median(r[key][1] for r in rounds), 2),
                    "wall_all_s": [round(w, 2) for w in walls]}
    out["first_demo_over_cached_demo"] = round(
        out["first_demo"]["wall_median_s"] / out["cached_demo"]["wall_median_s"], 2)
    return out


def first_run(runs: int, reference: str | None) -> dict:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        pycache = tmp / "pycache"
        versions = {"this": os.environ.get("PYTHONPATH")}
        if reference is not None:
            versions["reference"] = reference
        for path in versions.values():  # bytecode, page cache: warm, as after pip install
            one_round(path, tmp, pycache)
        load = [os.getloadavg()]
        results: dict[str, list] = {v: [] for v in versions}
        for _ in range(runs):
            for version, path in versions.items():
                results[version].append(one_round(path, tmp, pycache))
        load.append(os.getloadavg())
    report: dict = {version: _summary(rounds) for version, rounds in results.items()}
    if reference is not None:
        report["reference_over_this"] = {
            key: round(report["reference"][key]["wall_median_s"]
                       / report["this"][key]["wall_median_s"], 2)
            for key in ("first_demo", "first_map", "cached_demo")}
    report["runs"] = runs
    report["load_average_before_after"] = [[round(x, 2) for x in la] for la in load]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--reference-path", help=(
        "PYTHONPATH of another checkout to time in the same rounds (before / after)"))
    args = parser.parse_args(argv)
    print(json.dumps(first_run(args.runs, args.reference_path), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

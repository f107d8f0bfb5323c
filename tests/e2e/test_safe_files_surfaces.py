"""Special files (a FIFO, a device) are refused at once by every surface that opens a file, in one
child process with memory and file-size limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# every surface that opens a file a person or a dataset names, timed, in one child process
_SURFACES = textwrap.dedent("""
    import contextlib, io, json, sys, time
    from pathlib import Path
    target, work = sys.argv[1], Path(sys.argv[2])
    results = {}

    def timed(name, fn):
        start = time.perf_counter()
        try:
            outcome = fn()
        except Exception as exc:
            outcome = f"{exc.__class__.__name__}: {exc}"
        results[name] = [str(outcome), round(time.perf_counter() - start, 3)]

    from sinoloc.tools.images import load_image
    timed("load_image", lambda: load_image(target))

    from sinoloc.eval.datasets import load_dataset, validate
    from sinoloc.tools.regions import get_region_index
    (work / "set.csv").write_text(f"id,image,lat,lon\\nx,{target},30.259,120.139\\n")
    items = load_dataset(work / "set.csv", get_region_index())
    timed("eval_validate", lambda: [i.message for i in validate(items).issues])

    from sinoloc.eval.run_config import RunConfig
    from sinoloc.eval.worker import Evaluator
    evaluator = Evaluator(None, RunConfig(record=False))
    timed("eval_run_copy", lambda: evaluator.neutral_copy(target))
    evaluator.close()

    from sinoloc.app.cli.main import _parser, _run
    from sinoloc.app.cli.warmup import finish_warm_ups
    err = io.StringIO()
    with contextlib.redirect_stderr(err):  # main() without the wait for the OCR warm-up
        timed("cli_locate", lambda: _run(_parser().parse_args(["locate", target, "--offline"])))
    finish_warm_ups()
    results["cli_stderr"] = err.getvalue().strip().splitlines()
    print(json.dumps(results))
""")


def _limits() -> None:  # in the child: 6 GB of address space, 64 MB per file written
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))


def _surfaces(target: str, work: Path, timeout: float = 90.0) -> dict:
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1", "SINOLOC_OFFLINE": "1"}
    try:
        done = subprocess.run([sys.executable, "-c", _SURFACES, target, str(work)], cwd=work,
                              env=env, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_limits)
    except subprocess.TimeoutExpired:
        pytest.fail(f"opening {target} hung for {timeout:.0f} s")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_special_files_are_refused_at_once_everywhere(kind, tmp_path):
    if kind == "fifo":
        target = tmp_path / "photo.jpg"
        os.mkfifo(target)
        expected = "FIFO"
    else:
        target, expected = Path("/dev/zero"), "device"
    try:
        results = _surfaces(str(target), tmp_path)
    finally:
        if kind == "fifo":
            target.unlink()
    for surface in ("load_image", "eval_validate", "eval_run_copy", "cli_locate"):
        outcome, seconds = results[surface]
        # the CLI's time is its cold imports (a few seconds on 2 busy cores), not the refusal
        assert seconds < (30.0 if surface == "cli_locate" else 0.5), (surface, seconds)
        if surface == "cli_locate":
            assert outcome == "2"  # bad input, one line on stderr
            assert len(results["cli_stderr"]) == 1 and expected in results["cli_stderr"][0]
        else:
            assert expected in outcome and "not a regular file" in outcome, (surface, outcome)
    assert not list(tmp_path.glob("**/query*"))  # eval run's copy wrote nothing

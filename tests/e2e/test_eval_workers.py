"""The eval runner with real worker processes: a killed CLI run resumes, a per-image timeout kills
its worker, a bad image is a row."""

import json
import os
import signal
import subprocess
import sys

import pytest
from eval_data import labelled_set, wait_for_rows

from sinoloc.eval.datasets import dataset_fingerprint, load_dataset
from sinoloc.eval.run_config import RunConfig
from sinoloc.eval.runner import PREDICTIONS, load_record, rows_of, run


def _run(data, out, regions, config=None, **kw):
    return run(load_dataset(data, regions), out, config or RunConfig(), dataset=str(data),
               dataset_sha256=dataset_fingerprint(data), progress=False, **kw)


@pytest.mark.slow
def test_a_killed_cli_run_resumes_with_every_image_exactly_once(tmp_path):
    data = labelled_set(tmp_path / "set", scenes=6)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "sinoloc.app.cli.main", "eval", "run", str(data), "--out",
               str(out), "--workers", "1", "--no-progress"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    log = out / PREDICTIONS
    wait_for_rows(process, log, 2, timeout=120)
    os.killpg(process.pid, signal.SIGKILL)  # the runner and its worker, no clean-up at all
    process.wait()
    before = [json.loads(x)["id"] for x in log.read_text(encoding="utf-8").splitlines()]
    assert 2 <= len(before) < 7
    assert load_record(out).sessions[0].outcome == "running"  # nobody could say otherwise
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    ids = [json.loads(x)["id"] for x in log.read_text(encoding="utf-8").splitlines()]
    assert sorted(ids) == sorted(["shop", "beijing", "chengdu", "urumqi", "guangzhou",
                                  "harbin", "lhasa"])
    assert ids[:len(before)] == before
    killed, resumed_session = load_record(out).sessions
    assert killed.outcome == "killed" and killed.finished is None
    assert killed.rows_written == len(before)  # counted from the rows, not the last checkpoint
    assert resumed_session.outcome == "complete" and resumed_session.rows_written == 7 - len(before)


@pytest.mark.slow
def test_per_image_timeout_kills_the_worker_and_the_run_goes_on(tmp_path, regions):
    data = labelled_set(tmp_path / "set", scenes=1)
    _run(data, tmp_path / "run", regions, RunConfig(timeout_s=0.001), workers=1)
    rows = rows_of(tmp_path / "run")
    assert [(r.id, r.status) for r in rows] == [("shop", "timeout"), ("beijing", "timeout")]
    assert "0.001 s" in rows[0].error and rows[0].prediction is None
    # the hard limit was the binding budget (below --max-seconds): the locator's outcome, kept
    assert rows[0].error_kind == "locator" and not rows[0].retryable


@pytest.mark.slow
def test_bad_images_become_rows_not_crashes(tmp_path, regions):
    data = labelled_set(tmp_path / "set", scenes=1)
    (tmp_path / "set" / "beijing.jpg").write_bytes(b"\xff\xd8\xff truncated")
    _run(data, tmp_path / "run", regions, workers=1)
    rows = {r.id: r for r in rows_of(tmp_path / "run")}
    assert rows["shop"].status == "ok"
    assert rows["beijing"].status == "bad_image" and "not an image" in rows["beijing"].error

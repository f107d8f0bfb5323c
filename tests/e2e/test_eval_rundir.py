"""One writer per eval run directory, and faults survived: the lock, torn lines, SIGTERM, a
worker killed by the OS, temporary directories, and the code version of a non-checkout install."""

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from eval_data import labelled_set, wait_for_rows
from langchain_core.messages import AIMessage
from scripted_model import ScriptedChatModel

from sinoloc.eval.datasets import dataset_fingerprint, load_dataset
from sinoloc.eval.report import write_report
from sinoloc.eval.run_config import RunConfig
from sinoloc.eval.rundir_lock import RunDirLock
from sinoloc.eval.runner import PREDICTIONS, RUN_FILE, RunError, load_record, rows_of, run

KILL_MARK = "SINOLOC_TEST_KILL_MARK"
GATE = "SINOLOC_TEST_GATE"
GATED = ("--llm", "python:test_eval_rundir:gated_model", "--max-model-calls", "2")
CHEAP = RunConfig(baseline="constant")  # every tool off: the runner, not the locator, is tested


def dying_model():
    """``--llm python:test_eval_rundir:dying_model``: the first call in any worker (a marker file
    says whether it happened) kills its own process the way the OOM killer would."""

    def answer(messages):
        mark = Path(os.environ[KILL_MARK])
        if not mark.exists():
            mark.write_text(str(os.getpid()), encoding="utf-8")
            os.kill(os.getpid(), signal.SIGKILL)
        return AIMessage(content="no idea")

    return ScriptedChatModel(script=[answer], repeat_last=True)


def gated_model():
    """``--llm python:test_eval_rundir:gated_model``: answers only once the file named by
    ``$SINOLOC_TEST_GATE`` exists (so a run is surely still going while a test acts on it), then
    after ``$SINOLOC_TEST_DELAY`` seconds per call."""

    def answer(messages):
        gate, deadline = Path(os.environ[GATE]), time.monotonic() + 120
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(float(os.environ.get("SINOLOC_TEST_DELAY", "0")))
        return AIMessage(content="no idea")

    return ScriptedChatModel(script=[answer], repeat_last=True)


def _run(data, out, regions, config=CHEAP, **kw):
    return run(load_dataset(data, regions), out, config, dataset=str(data),
               dataset_sha256=dataset_fingerprint(data), progress=False, **kw)


def _ids(out: Path) -> list[str]:
    return [json.loads(line)["id"]
            for line in (out / PREDICTIONS).read_text(encoding="utf-8").splitlines()]


def _cli(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sinoloc.app.cli.main", "eval", "run", str(data), "--out",
            str(out), "--no-progress", *extra]


def _env(tmp: Path, **extra) -> dict:
    tmp.mkdir(exist_ok=True)
    tests = str(Path(__file__).parent)  # so that python:test_eval_rundir:… imports in the CLI
    path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "TMPDIR": str(tmp), "ORT_DISABLE_TELEMETRY": "1", "PYTHONPATH": path,
            **extra}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


# ------------------------------------------------------------------ one writer
def test_a_held_run_directory_is_refused_naming_the_holder(tmp_path, regions):
    data = labelled_set(tmp_path / "set", scenes=1)
    out = tmp_path / "run"
    with RunDirLock(out), pytest.raises(RunError, match=rf"in use by pid {os.getpid()} on "):
        _run(data, out, regions, workers=0)
    assert not (out / RUN_FILE).exists() and not (out / PREDICTIONS).exists()
    _run(data, out, regions, workers=0)  # free again once the holder is gone
    assert sorted(_ids(out)) == ["beijing", "shop"]
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


@pytest.mark.slow
def test_two_concurrent_cli_runs_one_refuses_and_every_image_is_written_once(tmp_path):
    data = labelled_set(tmp_path / "set", scenes=6)
    out, gate = tmp_path / "run", tmp_path / "gate"
    env = _env(tmp_path / "tmp", **{GATE: str(gate)})
    first = subprocess.Popen(_cli(data, out, "--workers", "1", *GATED), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not ((out / RUN_FILE).exists() and f'"pid": {first.pid}' in _text(out / ".lock")):
        assert first.poll() is None and time.monotonic() < deadline, first.stderr.read()
        time.sleep(0.05)
    second = subprocess.run(_cli(data, out, "--workers", "1", "--resume", *GATED), env=env,
                            capture_output=True, text=True, timeout=300)
    gate.touch()
    assert second.returncode == 2
    [line] = second.stderr.strip().splitlines()
    assert f"in use by pid {first.pid} on " in line and "--out" in line
    assert first.wait(timeout=300) == 0, first.stderr.read().decode()
    assert sorted(_ids(out)) == sorted(["shop", "beijing", "chengdu", "urumqi", "guangzhou",
                                        "harbin", "lhasa"])
    [session] = load_record(out).sessions
    assert session.outcome == "complete" and session.rows_written == 7


# ------------------------------------------------------------------ torn lines
def test_a_torn_line_mid_file_is_named_by_report_and_rerun_by_resume(tmp_path, regions, caplog,
                                                                     capsys):
    data = labelled_set(tmp_path / "set", scenes=2)
    out = tmp_path / "run"
    _run(data, out, regions, workers=0)
    log = out / PREDICTIONS
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    assert [json.loads(x)["id"] for x in lines] == ["shop", "beijing", "chengdu"]
    lines[1] = lines[1][:40] + "\n"  # torn in the middle, the next row intact after it
    log.write_text("".join(lines), encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="sinoloc.eval.results"):
        write_report(out, regions, plots=False)
    [warning] = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"{log}:2: not a valid row") and warning.endswith("skipped")

    record = _run(data, out, regions, workers=0, resume=True)
    assert f"set aside {log}:2 " in capsys.readouterr().err
    assert sorted(_ids(out)) == ["beijing", "chengdu", "shop"]  # each exactly once
    rows = {r.id: r for r in rows_of(out)}
    assert rows["beijing"].session == 1 and rows["shop"].session == 0
    [aside] = [json.loads(x) for x in
               (out / "predictions.rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert aside["line"] == 2 and aside["text"] == lines[1].rstrip("\n")
    assert record.sessions[1].set_aside == 1 and record.sessions[1].rows_written == 1


@pytest.mark.slow
def test_sigterm_stops_a_cli_run_cleanly_and_resume_finishes_it(tmp_path):
    data = labelled_set(tmp_path / "set", scenes=6)
    out, tmp, gate = tmp_path / "run", tmp_path / "tmp", tmp_path / "gate"
    gate.touch()
    env = _env(tmp, **{GATE: str(gate), "SINOLOC_TEST_DELAY": "0.5"})
    process = subprocess.Popen(_cli(data, out, "--workers", "2", *GATED), env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for_rows(process, out / PREDICTIONS, 1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr.decode()
    assert "Traceback" not in stderr.decode() and "--resume" in stderr.decode()
    written = _ids(out)
    assert len(written) < 7 and len(set(written)) == len(written)
    [session] = load_record(out).sessions
    assert session.outcome == "interrupted" and session.interrupted_by == "SIGTERM"
    assert session.finished and session.rows_written == len(written)
    assert list(tmp.iterdir()) == []  # temp dirs (with the last image) gone

    resumed = subprocess.run(_cli(data, out, "--workers", "2", "--resume", *GATED), env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(_ids(out)) == sorted(["shop", "beijing", "chengdu", "urumqi", "guangzhou",
                                        "harbin", "lhasa"])
    sessions = load_record(out).sessions
    assert [s.outcome for s in sessions] == ["interrupted", "complete"]
    assert sum(s.rows_written for s in sessions) == 7
    assert list(tmp.iterdir()) == []


# ------------------------------------------------------------------ infrastructure failures
@pytest.mark.slow
def test_a_worker_killed_by_the_os_is_retried_on_resume(tmp_path, regions, monkeypatch):
    data = labelled_set(tmp_path / "set", scenes=2)
    out, tmp = tmp_path / "run", tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv(KILL_MARK, str(tmp_path / "killed"))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    config = RunConfig(llm="python:test_eval_rundir:dying_model", max_model_calls=2)
    _run(data, out, regions, config, workers=1)
    first = {r.id: r for r in rows_of(out)}
    killed = [r for r in first.values() if r.error_kind == "infrastructure"]
    assert len(killed) == 1 and "died (exit code -9)" in killed[0].error
    assert killed[0].retryable and len(first) == 3
    assert list(tmp.iterdir()) == []

    record = _run(data, out, regions, config, workers=1, resume=True)
    assert sorted(_ids(out)) == ["beijing", "chengdu", "shop"]
    again = {r.id: r for r in rows_of(out)}[killed[0].id]
    assert again.error_kind != "infrastructure" and again.attempt == 2 and again.session == 1
    assert record.sessions[1].rows_written == 1
    aside = json.loads((out / "predictions.rejected.jsonl").read_text(encoding="utf-8"))
    assert aside["id"] == killed[0].id and aside["reason"].startswith("retryable")
    assert list(tmp.iterdir()) == []


def test_failures_of_the_image_itself_are_kept_on_resume(tmp_path, regions):
    data = labelled_set(tmp_path / "set", scenes=1)
    (tmp_path / "set" / "beijing.jpg").write_bytes(b"\xff\xd8\xff truncated")
    out = tmp_path / "run"
    _run(data, out, regions, workers=0)
    record = _run(data, out, regions, workers=0, resume=True)
    [bad] = [r for r in rows_of(out) if r.id == "beijing"]
    assert bad.status == "bad_image" and bad.error_kind == "image" and bad.session == 0
    assert record.sessions[1].rows_written == 0

"""The dev bench, recorded and replayed (agent/records), as issue 34 asks: a run with a scripted
model served over HTTP on loopback (the OpenAI-compatible dialect, through the real SDK) is
recorded; with the server stopped and the network cut, the replay gives every prediction again
in every field but timings, with no connection attempted; with one verification threshold
changed, the replay names the images and steps whose verdict changed and why, and every other
image replays with no miss. Skipped where the dev bench is absent (it never enters the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from replay_runs import eval_run, recorded_run, rows
from socket_guard import SocketGuard

from sinoloc.agent.reasoning import checks
from sinoloc.app.cli.main import main
from sinoloc.eval.replay_compare import without_timings

DEV_BENCH = Path(os.environ.get("SINOLOC_DEV_BENCH", "/work/shared/dev-bench")) / "labels.csv"
pytestmark = [pytest.mark.slow, pytest.mark.loopback,
              pytest.mark.skipif(not DEV_BENCH.exists(), reason="no dev bench on this machine")]


def test_dev_bench_replays_exactly_offline_and_names_what_a_threshold_changes(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-real")
    code, requests = recorded_run(main, DEV_BENCH, tmp_path / "recorded")
    assert code == 0 and requests > 0
    recorded = rows(tmp_path / "recorded")
    assert len(recorded) == 80

    guard = SocketGuard(monkeypatch)  # the server is gone; nothing may connect anywhere
    assert eval_run(main, DEV_BENCH, tmp_path / "replayed", "--replay",
                    str(tmp_path / "recorded")) == 0
    replayed = rows(tmp_path / "replayed")
    assert guard.attempts == []
    for image, row in recorded.items():
        assert replayed[image]["status"] == row["status"]
        assert without_timings(replayed[image]["prediction"]) == \
            without_timings(row["prediction"]), image
        assert replayed[image]["replay"]["misses"] == 0
        assert replayed[image]["replay"]["divergence"] is None

    monkeypatch.setattr(checks, "DOMINANT_SHARE", 0.9)  # one verification threshold
    assert eval_run(main, DEV_BENCH, tmp_path / "changed", "--replay",
                    str(tmp_path / "recorded")) == 0
    changed = rows(tmp_path / "changed")
    diverged = {i: r["replay"]["divergence"] for i, r in changed.items()
                if r["replay"]["divergence"]}
    assert diverged and guard.attempts == []
    for divergence in diverged.values():
        assert divergence["kind"] == "verify", divergence
        assert divergence["why"].startswith("verification changed its verdict: recorded ")
    for image, row in changed.items():
        if image not in diverged:
            assert row["replay"]["misses"] == 0
            assert without_timings(row["prediction"]) == \
                without_timings(recorded[image]["prediction"])

    assert main(["eval", "compare", str(tmp_path / "recorded"), str(tmp_path / "replayed"),
                 str(tmp_path / "changed"), "--out", str(tmp_path / "cmp"), "--no-plots"]) == 0
    report = (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")
    assert "| replayed | 80 |" in report and "| 0 | 0 | 0 | 0 | 0 |" in report
    for image, divergence in diverged.items():
        assert f"- **{image}** step {divergence['step']} [verify]: " in report
    table = report[report.index("## Replay"):]
    print(table[:table.index("## How")] if "## How" in table else table)

"""The probe benchmark end to end on three probes."""

from __future__ import annotations

import json
import time

import pytest


@pytest.mark.slow
def test_benchmark_end_to_end_on_three_probes(tmp_path):
    from sinoloc.benchmarks.probe import main

    start = time.perf_counter()
    assert main(["--out", str(tmp_path), "--limit", "3", "--workers", "1", "--seed", "5",
                 "--kinds", "address", "landline", "agree"]) == 0
    report = json.loads((tmp_path / "probe.json").read_text(encoding="utf-8"))
    assert report["meta"]["n"] == 3 and report["meta"]["wall_s"] < time.perf_counter() - start + 1
    assert [r["probe"]["kind"] for r in report["probes"]] == ["address", "landline", "agree"]
    for record in report["probes"]:
        assert record["error"] is None and record["pred"] is not None
        assert record["score"]["km"] is not None
    summary = report["summary"]
    assert summary["all"]["n"] == 3 and summary["all"]["province"]["n"] == 3
    assert summary["address"]["district"]["n"] == 1 and summary["landline"]["district"]["n"] == 0
    markdown = (tmp_path / "probe.md").read_text(encoding="utf-8")
    assert "| address | 1 |" in markdown and "| all | 3 |" in markdown

    from sinoloc.benchmarks.probe_run import compare

    before = json.loads(json.dumps(report))  # the same run, with the address probe's province wrong
    before["probes"][0]["score"]["province"] = not report["probes"][0]["score"]["province"]
    delta = compare(before, report)
    now = 100 * report["summary"]["address"]["province"]["accuracy"]
    assert f"| address | province | {100 - now:.1f} % | {now:.1f} % | {2 * now - 100:+.1f} |" in delta
    assert "probes compared: 3 " in delta
    assert ("fixed 1, broken 0" if now else "fixed 0, broken 1") in delta
    moved = json.loads(json.dumps(report))  # a probe with another truth under the same id is left out
    moved["probes"][1]["probe"]["truth"]["lat"] += 1.0
    assert "probes compared: 2 " in compare(moved, report)

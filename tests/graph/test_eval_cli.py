"""The eval commands run in process end to end: validate, run (a baseline and an ablation too),
report and compare."""

import json

import pytest
from eval_data import labelled_set

from sinoloc.app.cli.main import main
from sinoloc.eval.runner import PREDICTIONS


def test_eval_cli_end_to_end_with_a_baseline_and_an_ablation(tmp_path, capsys):
    data = labelled_set(tmp_path / "set", scenes=2, extra_columns="terrain=flat")
    assert main(["eval", "validate", str(data)]) == 0
    assert "3 rows, 3 usable, 0 errors" in capsys.readouterr().out
    full, base, ablation = tmp_path / "full", tmp_path / "constant", tmp_path / "no-ocr"
    assert main(["eval", "run", str(data), "--out", str(full), "--workers", "0"]) == 0
    *_, counts, headline = capsys.readouterr().out.strip().splitlines()
    assert json.loads(counts) == {"rows": 3, "ok": 3, "skipped": 0}
    assert headline.startswith("3 images, 3 answered: mean ") and "province " in headline
    assert main(["eval", "run", str(data), "--out", str(base), "--workers", "0",
                 "--baseline", "constant"]) == 0
    assert main(["eval", "run", str(data), "--out", str(ablation), "--workers", "0",
                 "--disable", "ocr", "--no-verify"]) == 0
    capsys.readouterr()
    assert main(["eval", "report", str(full), "--slice", "terrain", "--no-plots"]) == 0
    headline = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert headline["images"] == 3 and headline["province"] == pytest.approx(1 / 3)
    report = (full / "report" / "report.md").read_text(encoding="utf-8")
    assert "### By terrain" in report and "_No figures" not in report
    assert "## Locatability" in report and "Spearman" in report
    baseline_rows = [json.loads(x) for x in (base / PREDICTIONS).read_text().splitlines()]
    points = {(r["prediction"]["lat"], r["prediction"]["lon"]) for r in baseline_rows}
    assert len(points) == 1  # the constant baseline answers one point for every image
    assert all(r["prediction"]["basis"] == "prior_only" for r in baseline_rows)
    ablated = [json.loads(x) for x in (ablation / PREDICTIONS).read_text().splitlines()]
    ocr_calls = [t for r in ablated for t in r["prediction"]["tool_calls"] if t["tool"] == "ocr"]
    assert ocr_calls and all(t["status"] == "unavailable" for t in ocr_calls)
    assert main(["eval", "compare", str(full), str(base), str(ablation), "--out",
                 str(tmp_path / "cmp"), "--no-plots"]) == 0
    table = (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")
    assert "baseline:constant" in table and "-ocr -verify" in table
    assert table.count("### ") == 2 and "## Paired tests" in table  # each run against the first

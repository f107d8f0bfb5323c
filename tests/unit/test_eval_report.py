"""Scoring rows, the Markdown report with figures, comparisons and the eval CLI end to end."""

import json

import pytest

from sinoloc.app.cli.main import main
from sinoloc.eval.datasets import Truth
from sinoloc.eval.report import references, write_comparison, write_report
from sinoloc.eval.results import ResultRow, ResultsLog
from sinoloc.eval.run_config import RunConfig
from sinoloc.eval.runner import PREDICTIONS, RUN_FILE, RunRecord
from sinoloc.eval.scoring import no_evidence_point, score_row, summarize, total_area
from sinoloc.tools.regions import haversine_km

XIHU = Truth(lat=30.2741, lon=120.1247, province="浙江省", province_adcode="330000",
             city="杭州市", city_adcode="330100", district="西湖区", district_adcode="330106")
NANJING = Truth(lat=32.0603, lon=118.7969, province="江苏省", province_adcode="320000",
                city="南京市", city_adcode="320100", district="玄武区",
                district_adcode="320102")


def _prediction(province, padc, city, cadc, district, dadc, lat, lon, conf, candidates,
                cost=None):
    return {"province": province, "province_adcode": padc, "city": city, "city_adcode": cadc,
            "district": district, "district_adcode": dadc, "lat": lat, "lon": lon,
            "confidence": {"province": conf, "city": conf, "district": conf},
            "candidates": [{"adcode": a, "probability": p} for a, p in candidates],
            "province_candidates": [{"adcode": padc, "probability": conf},
                                    {"adcode": "320000", "probability": 1 - conf},
                                    {"adcode": "310000", "probability": 0.0}],
            "city_candidates": [{"adcode": cadc, "probability": conf}],
            "basis": "evidence", "usage": {"model_calls": 2, "tool_calls": 4,
                                           "input_tokens": 900, "output_tokens": 100,
                                           "cost_usd": cost}}


def _rows():
    exact = _prediction("浙江省", "330000", "杭州市", "330100", "西湖区", "330106",
                        30.2741, 120.1247, 0.9, [("330106", 0.9), ("330102", 0.05)], 0.01)
    # wrong district, right city; the truth is second among the candidates
    near = _prediction("浙江省", "330000", "杭州市", "330100", "上城区", "330102", 30.25, 120.17,
                       0.6, [("330102", 0.6), ("330106", 0.3), ("330105", 0.1)], 0.01)
    wrong = _prediction("浙江省", "330000", "杭州市", "330100", "西湖区", "330106", 30.2741,
                        120.1247, 0.8, [("330106", 0.8), ("330102", 0.1)], 0.01)
    return [ResultRow(id="exact", status="ok", seconds=2.0, truth=XIHU, prediction=exact,
                      attributes={"cluster": "a"}),
            ResultRow(id="near", status="ok", seconds=4.0, truth=XIHU, prediction=near,
                      attributes={"cluster": "a"}),
            ResultRow(id="wrong", status="ok", seconds=6.0, truth=NANJING, prediction=wrong,
                      attributes={"cluster": "b"}),
            ResultRow(id="failed", status="timeout", error="no answer", seconds=600.0,
                      truth=NANJING, attributes={"cluster": "b"})]


def _write_run(folder, rows, config=None):
    folder.mkdir(parents=True)
    record = RunRecord(dataset="set.csv", dataset_sha256="0" * 64, config=config or RunConfig())
    (folder / RUN_FILE).write_text(record.model_dump_json())
    log = ResultsLog(folder / PREDICTIONS)
    for row in rows:
        log.append(row)
    return folder


def test_scoring_by_hand(regions):
    scored = [score_row(r, regions) for r in _rows()]
    exact, near, wrong, failed = scored
    assert exact.error_km == 0 and exact.score == 5000 and exact.correct == {
        "province": True, "city": True, "district": True}
    assert exact.area_to_truth_km2 == pytest.approx(regions.get("330106", "district").area_km2)
    assert not near.correct["district"] and near.top3["district"] and near.correct["city"]
    assert near.area_to_truth_km2 == pytest.approx(
        regions.get("330102", "district").area_km2 + regions.get("330106", "district").area_km2)
    assert wrong.error_km == pytest.approx(float(haversine_km(118.7969, 32.0603, 120.1247,
                                                              30.2741)))
    assert not any(wrong.correct.values()) and wrong.top3["province"]  # 江苏 is second
    assert wrong.area_to_truth_km2 == total_area(regions)
    lat, lon = no_evidence_point(regions)
    assert failed.imputed and not failed.answered
    assert failed.error_km == pytest.approx(float(haversine_km(118.7969, 32.0603, lon, lat)))
    summary = summarize(scored, total_area(regions), resamples=200)
    assert summary.images == 4 and summary.answered == 3 and summary.failures == {"timeout": 1}
    province = summary.levels["province"]
    # 3 answered, 2 right, 4 images: accuracy 2/3, recall 1/2
    assert (province.answer_rate, province.precision, province.recall) == pytest.approx(
        (0.75, 2 / 3, 0.5))
    assert province.top1.value == 0.5 and province.top3 == 0.75
    assert summary.levels["district"].top1.value == 0.25
    assert summary.within_km["1"].value == 0.25
    assert summary.latency_p50_s == 5.0
    assert summary.cost_usd_per_image == pytest.approx(0.03 / 4)
    assert summary.model_calls_per_image == 1.5  # the timeout made none that were recorded
    assert summary.mean_km.low <= summary.mean_km.value <= summary.mean_km.high
    by_cluster = summarize(scored, total_area(regions), resamples=200, cluster="cluster")
    assert by_cluster.clusters == 2 and by_cluster.mean_km.value == summary.mean_km.value


def test_report_writes_markdown_json_and_figures(tmp_path, regions):
    run_dir = _write_run(tmp_path / "full", _rows())
    path = write_report(run_dir, regions, slice_by=("cluster",), cluster="cluster")
    text = path.read_text(encoding="utf-8")
    for needle in ("# Eval report: full", "| full | 4 |", "seed hybrid CNN+OCR+LVLM",
                   "409.2", "### By province", "### By cluster", "| 浙江省 | 2 |",
                   "failures {'timeout': 1}", "geo-mean km", "Recall vs Area",
                   "ECE", "p50 5.00 s", "## The 4 largest errors", "| failed | timeout |",
                   "over the 2 clusters of `cluster`"):
        assert needle in text, needle
    for figure in ("error_cdf.png", "rva.png", "reliability.png", "error_map.png"):
        assert (path.parent / figure).stat().st_size > 5000
        assert f"]({figure})" in text
    summary = json.loads((path.parent / "summary.json").read_text())
    assert summary["summary"]["images"] == 4 and set(summary["slices"]) == {"province", "cluster"}
    assert len((path.parent / "images.jsonl").read_text().splitlines()) == 4


def test_comparison_scores_the_shared_images(tmp_path, regions):
    a = _write_run(tmp_path / "a", _rows())
    b = _write_run(tmp_path / "b", _rows()[:2], RunConfig(disabled_tools=["ocr"], verify=False))
    path = write_comparison([a, b], regions, tmp_path / "cmp")
    text = path.read_text(encoding="utf-8")
    assert "Scored on the 2 images every run has (left out: {'a': 2})" in text
    assert "| a (deterministic) | 2 |" in text and "| b (deterministic -ocr -verify) | 2 |" in text
    assert (tmp_path / "cmp" / "error_cdf.png").exists()


def test_reference_results_have_sources():
    rows = references()
    assert {r.mean_km for r in rows} == {409.2, 975.7}
    assert all(r.source for r in rows)


def test_eval_cli_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert main(["eval", "validate", str(tmp_path / "nope.csv")]) == 2
    assert "no such dataset" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("image,lat,lon\nmissing.jpg,30.27,120.12\n")
    assert main(["eval", "validate", str(bad)]) == 2
    assert main(["eval", "report", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["eval", "run", str(bad), "--out", str(tmp_path / "r"), "--llm", "nonsense"]) == 2
    assert "--llm" in capsys.readouterr().err


def test_cli_names_match_the_run_config():
    import argparse

    from sinoloc.app.cli.eval import BASELINE_NAMES, add_parser
    from sinoloc.eval.run_config import ALL_TOOLS, BASELINES

    assert set(BASELINE_NAMES) == set(BASELINES)
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    run_help = parser._subparsers._group_actions[0].choices["eval"]._subparsers \
        ._group_actions[0].choices["run"].format_help()
    assert all(tool in run_help.replace("\n", " ") for tool in ALL_TOOLS)


def test_report_without_matplotlib_says_how_to_get_figures(tmp_path, regions, monkeypatch):
    from sinoloc.eval import plots

    def missing():
        raise plots.PlottingUnavailable("plots need matplotlib: pip install '.[eval]'")

    monkeypatch.setattr(plots, "_pyplot", missing)
    path = write_report(_write_run(tmp_path / "run", _rows()), regions)
    assert "_No figures: plots need matplotlib: pip install '.[eval]'._" in path.read_text(
        encoding="utf-8")
    assert not list(path.parent.glob("*.png")) and (path.parent / "summary.json").exists()


def test_cli_timeout_default_is_the_run_configs():
    import argparse

    from sinoloc.app.cli.eval import add_parser
    from sinoloc.eval.run_config import RunConfig

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "run", "data.csv", "--out", "runs/x"])
    assert args.timeout == RunConfig.model_fields["timeout_s"].default
    run_parser = parser._subparsers._group_actions[0].choices["eval"]._subparsers \
        ._group_actions[0].choices["run"]
    assert f"default {args.timeout}" in " ".join(run_parser.format_help().split())

"""The results log: the first row of an id is kept, later ones set aside by repair; an infrastructure
row gives way."""

import json

from sinoloc.eval.results import ResultRow, ResultsLog


def test_results_log_keeps_the_first_row_of_an_id_and_repair_sets_later_ones_aside(tmp_path):
    log = ResultsLog(tmp_path / "p.jsonl")
    truth = {"lat": 30.0, "lon": 120.0}
    log.append(ResultRow(id="a", status="error", error="x", seconds=1, truth=truth))
    log.append(ResultRow(id="a", status="ok", seconds=1, truth=truth, prediction={}))
    assert [(r.id, r.status) for r in log.read()] == [("a", "error")]
    [aside] = log.repair()
    assert (aside.line, aside.id, aside.reason) == (2, "a", "duplicate of line 1")
    assert log.path.read_text(encoding="utf-8").count("\n") == 1
    assert json.loads(log.side_path.read_text(encoding="utf-8"))["line"] == 2
    assert log.repair() == []  # nothing left to set aside: the log is untouched


def test_an_infrastructure_row_gives_way_to_a_later_row_of_its_id(tmp_path):
    log = ResultsLog(tmp_path / "p.jsonl")
    truth = {"lat": 30.0, "lon": 120.0}
    log.append(ResultRow(id="a", status="error", error="died", error_kind="infrastructure",
                         seconds=1, truth=truth))
    log.append(ResultRow(id="a", status="ok", seconds=1, truth=truth, prediction={}, attempt=2))
    assert [(r.id, r.status, r.attempt) for r in log.read()] == [("a", "ok", 2)]
    third = ResultRow(id="b", status="error", error="died", error_kind="infrastructure",
                      seconds=1, truth=truth, attempt=3)
    assert not third.retryable  # tried often enough: kept as failed

"""Records written by several worker processes at once (``eval run --workers 2``): the record
reads back valid, each image whole, and replays with workers too, prediction for prediction."""

from __future__ import annotations

import pytest
from eval_data import labelled_set
from replay_runs import rows

from sinoloc.agent.records import load_record
from sinoloc.app.cli.main import main
from sinoloc.eval.replay_compare import without_timings

pytestmark = pytest.mark.slow


def test_workers_append_one_valid_record_and_replay_it(tmp_path):
    data = labelled_set(tmp_path / "set", scenes=3)
    args = ["--workers", "2", "--offline", "--no-progress"]
    assert main(["eval", "run", str(data), "--out", str(tmp_path / "run"), *args]) == 0
    record = load_record(tmp_path / "run")
    assert set(record.images) == {"shop", "beijing", "chengdu", "urumqi"}
    for image in record.images.values():
        kinds = [s.kind for s in image.steps]
        assert kinds[0] == "start" and kinds[-1] == "end" and "tool" in kinds
        assert [s.seq for s in image.steps] == list(range(len(kinds)))
    assert main(["eval", "run", str(data), "--out", str(tmp_path / "replayed"), "--replay",
                 str(tmp_path / "run"), *args]) == 0
    before, after = rows(tmp_path / "run"), rows(tmp_path / "replayed")
    for image, row in before.items():
        assert after[image]["replay"]["misses"] == 0 and after[image]["replay"]["hits"] >= 3
        assert without_timings(after[image]["prediction"]) == without_timings(row["prediction"])

"""A regression test built from a recorded run: tests/data/replay holds the record of a run of a
small rendered set with the scripted model (made by ``python tests/support/make_replay_record.py``,
never by hand) and its predictions. Replaying it against today's code, offline and with no model,
must give the same predictions in every field but timings; a change that alters what the graph
asks fails here with the first step that diverged and why."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from replay_runs import eval_run, regression_set, rows
from socket_guard import SocketGuard

from sinoloc.agent.records import Divergence, load_record
from sinoloc.app.cli.main import main
from sinoloc.eval.replay_compare import without_timings

DATA = Path(__file__).resolve().parent.parent / "data" / "replay"
REGENERATE = "if the change is meant, regenerate it: python tests/support/make_replay_record.py"


def test_the_recorded_run_replays_to_its_predictions_offline(tmp_path, monkeypatch):
    record = load_record(DATA / "record")  # validated: schema, hashes, no absolute paths
    data = regression_set(tmp_path / "set")
    for image in record.images.values():
        rendered = hashlib.sha256((data.parent / f"{image.image}.jpg").read_bytes()).hexdigest()
        assert rendered == image.sha256, f"the rendered {image.image} differs from the record's"
    guard = SocketGuard(monkeypatch)
    assert eval_run(main, data, tmp_path / "replayed", "--replay", str(DATA / "record")) == 0
    replayed = rows(tmp_path / "replayed")
    diverged = [Divergence.model_validate(r["replay"]["divergence"]).line()
                for r in replayed.values() if r["replay"]["divergence"]]
    assert not diverged, f"the graph no longer asks what {DATA} recorded ({REGENERATE}):\n" \
        + "\n".join(diverged)
    expected = [json.loads(line) for line in
                (DATA / "expected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(replayed) == sorted(e["id"] for e in expected)
    for e in expected:
        assert replayed[e["id"]]["status"] == e["status"]
        assert without_timings(replayed[e["id"]]["prediction"]) == e["prediction"], \
            f"{e['id']}: same exchanges, another prediction ({REGENERATE})"
    assert guard.attempts == []

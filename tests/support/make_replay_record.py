"""Regenerate tests/data/replay (the record the replay regression test replays):

    python tests/support/make_replay_record.py

Renders the regression set (:func:`replay_runs.regression_set`), runs ``sinoloc eval run`` on it
with the scripted model served over HTTP on loopback, and keeps the run's record folder and its
predictions without timings (``expected.jsonl``). Rerun it, and commit the result, when a change
to the graph is meant to change what the record holds (the regression test then says which step
diverged and why)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "data" / "replay"


def main() -> int:
    sys.path[:0] = [str(HERE), str(HERE.parent / "netguard")]
    os.environ.setdefault("OPENAI_API_KEY", "test-key-not-real")
    from replay_runs import recorded_run, regression_set, rows

    from sinoloc.app.cli.main import main as sinoloc
    from sinoloc.eval.replay_compare import without_timings

    with tempfile.TemporaryDirectory(prefix="sinoloc-replay-record-") as tmp:
        data = regression_set(Path(tmp) / "set")
        code, requests = recorded_run(sinoloc, data, Path(tmp) / "run")
        if code != 0 or not requests:
            print(f"the recorded run failed (exit {code}, {requests} model requests)")
            return 1
        shutil.rmtree(OUT, ignore_errors=True)
        OUT.mkdir(parents=True)
        shutil.copytree(Path(tmp) / "run" / "record", OUT / "record")
        expected = [{"id": i, "status": r["status"], "prediction": without_timings(r["prediction"])}
                    for i, r in sorted(rows(Path(tmp) / "run").items())]
        (OUT / "expected.jsonl").write_text(
            "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in expected),
            encoding="utf-8")
    print(f"wrote {OUT} ({requests} model requests recorded)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

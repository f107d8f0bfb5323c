"""What recording costs and how fast a record replays (agent/records), on a labelled set.

    python -m sinoloc.benchmarks.replay [--data LABELS.csv] [--images 80] [--overhead-images 20]
                                        [--rounds 2] [--policy deterministic|scripted]

- recording's cost: each of the first ``--overhead-images`` images is located once (unmeasured,
  so that both timed runs find it decoded), then with recording off and on, back to back in
  alternating order, ``--rounds`` times, through eval's own
  :class:`~sinoloc.eval.worker.Evaluator` (offline); reported as the median of the per-image
  on/off ratios and the ratio of the summed times (target: ≤ 1.05), and as the share of the
  recorded runs' time spent in the recording code itself (measured inside it, the model's and
  tools' own time excluded: the figure that a loaded machine's noise does not move);
- a record's size: bytes per step besides model text (messages and replies), from the record
  of the whole set (target: ≤ 2 KB);
- replay: the whole set replayed from that record in this process (images/s; target ≥ 10 on 2
  cores), and how many predictions differ from the recorded run in any field but timings (0).

``--policy scripted`` puts an in-process scripted model in the policy slot (it asks the knowledge
base, then submits an answer; the verifier may send it back), so that model exchanges are
recorded too; ``deterministic`` is the offline default. The default set is the dev bench
(``/work/shared/dev-bench/labels.csv``) when it is there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

DEV_BENCH = Path("/work/shared/dev-bench/labels.csv")
ANSWERS = [{"province": "北京市", "city": "北京市", "district": "东城区", "lat": 39.9163,
            "lon": 116.4177},
           {"province": "上海市", "city": "上海市", "district": "黄浦区", "lat": 31.2304,
            "lon": 121.4737}]


class ScriptedSurveyor(BaseChatModel):
    """Asks the knowledge base once, then submits fixed answers in turn (no citations)."""

    @property
    def _llm_type(self) -> str:
        return "scripted-surveyor"

    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        tools = [m.name for m in messages if isinstance(m, ToolMessage)]
        if "lookup_knowledge" not in tools:
            call = {"name": "lookup_knowledge", "args": {"query": "shop signs"}, "id": "k1"}
        else:
            n = tools.count("submit_answer")
            call = {"name": "submit_answer", "args": {**ANSWERS[n % len(ANSWERS)],
                                                      "confidence": 0.5}, "id": f"s{n}"}
        reply = AIMessage(content="", tool_calls=[{**call, "type": "tool_call"}],
                          usage_metadata={"input_tokens": 1000, "output_tokens": 40,
                                          "total_tokens": 1040})
        return ChatResult(generations=[ChatGeneration(message=reply)])


def _policy(kind: str):
    from sinoloc.agent.policies import DeterministicPolicy
    from sinoloc.agent.policies.model import ChatModelPolicy

    return DeterministicPolicy() if kind == "deterministic" else \
        ChatModelPolicy(ScriptedSurveyor(), "scripted:surveyor")


def _evaluator(policy, record_dir: Path | None = None, replay: Path | None = None):
    from sinoloc.agent.api import Geolocator
    from sinoloc.agent.records import open_record
    from sinoloc.eval.run_config import RunConfig
    from sinoloc.eval.worker import Evaluator

    if record_dir is not None:
        open_record(record_dir, backend=policy.name)
    config = RunConfig(offline=True, record=record_dir is not None,
                       record_dir=str(record_dir) if record_dir else None,
                       replay=str(replay) if replay else None)
    return Evaluator(Geolocator(policy), config)


def bench_overhead(items, kind: str, rounds: int, work: Path) -> dict:
    ratios: list[float] = []
    off_total = on_total = spent = 0.0
    for r in range(rounds):
        off = _evaluator(_policy(kind))
        on = _evaluator(_policy(kind), record_dir=work / f"overhead-{r}")
        for i, item in enumerate(items):
            off.locate(item)  # warm: both timed runs find the image decoded alike
            times = {}
            for name in (("off", "on") if (i + r) % 2 == 0 else ("on", "off")):
                start = time.perf_counter()
                (off if name == "off" else on).locate(item)
                times[name] = time.perf_counter() - start
            ratios.append(times["on"] / times["off"])
            off_total += times["off"]
            on_total += times["on"]
        spent += on.recording.spent_s
        off.close()
        on.close()
    return {"images": len(items), "rounds": rounds,
            "mean_image_s_off": round(off_total / max(len(items) * rounds, 1), 4),
            "median_on_off_ratio": round(statistics.median(ratios), 4),
            "summed_on_off_ratio": round(on_total / off_total, 4),
            "recording_code_share": round(spent / on_total, 4)}


def bench_record_and_replay(items, kind: str, work: Path) -> dict:
    from sinoloc.agent.records import load_record, record_size, replay_policy
    from sinoloc.eval.replay_compare import without_timings

    folder = work / "record"
    recorder = _evaluator(_policy(kind), record_dir=folder)
    start = time.perf_counter()
    recorded = {item.id: recorder.locate(item) for item in items}
    record_s = time.perf_counter() - start
    recorder.close()
    size = record_size(folder)
    replayer = _evaluator(replay_policy(load_record(folder)), replay=folder)
    replayer.locate(items[0])  # warm: the record read and validated once per process
    start = time.perf_counter()
    replayed = {item.id: replayer.locate(item) for item in items}
    replay_s = time.perf_counter() - start
    replayer.close()
    differ = sorted(i for i, row in replayed.items()
                    if without_timings(row.prediction) != without_timings(recorded[i].prediction)
                    or row.status != recorded[i].status)
    misses = sum((row.replay or {}).get("misses", 0) for row in replayed.values())
    return {"images": len(items), "record_run_s": round(record_s, 2),
            "replay_s": round(replay_s, 3), "replay_images_per_s": round(len(items) / replay_s, 1),
            "replay_misses": misses, "predictions_differing": differ, "record": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sinoloc.benchmarks.replay",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEV_BENCH if DEV_BENCH.exists() else None)
    parser.add_argument("--images", type=int, default=80)
    parser.add_argument("--overhead-images", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--policy", choices=["deterministic", "scripted"],
                        default="deterministic")
    args = parser.parse_args(argv)
    if args.data is None:
        parser.error("--data LABELS.csv is required (the dev bench is not on this machine)")
    from sinoloc.eval.datasets import load_dataset
    from sinoloc.tools.regions import get_region_index

    items = [i for i in load_dataset(args.data, get_region_index()) if i.usable][:args.images]
    with tempfile.TemporaryDirectory(prefix="sinoloc-bench-replay-") as tmp:
        work = Path(tmp)
        _evaluator(_policy(args.policy)).locate(items[0])  # warm: OCR models, region index
        result = {"policy": args.policy, "data": str(args.data),
                  "overhead": bench_overhead(items[:args.overhead_images], args.policy,
                                             args.rounds, work),
                  "record_and_replay": bench_record_and_replay(items, args.policy, work)}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

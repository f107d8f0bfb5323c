"""The replay part of ``eval compare``: for each run that replayed another, how much of it the
record answered, which images diverged (the first step that did, and why), and whose prediction
changed against the first run compared (every field but timings)."""

from __future__ import annotations

from pathlib import Path

from sinoloc.eval.results import ResultRow, ResultsLog

TIMINGS = ("seconds", "timings")  # what differs between a run and its exact replay
SHOWN = 40  # divergences listed per run


def without_timings(value):
    """A prediction with every timing taken out."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def _rows(run: Path) -> dict[str, ResultRow]:
    return {r.id: r for r in ResultsLog(run / "predictions.jsonl").read()}


def _changed(base: dict[str, ResultRow], rows: dict[str, ResultRow]) -> list[str]:
    """Ids in both runs whose predictions differ in any field but timings, sorted."""
    return sorted(i for i, r in rows.items() if i in base and without_timings(
        r.prediction) != without_timings(base[i].prediction))


def _diverged(replayed: list[ResultRow]) -> list[dict]:
    """The first divergence of each replayed image that diverged, by image id."""
    diverged = sorted((r for r in replayed if r.replay and r.replay.get("divergence")),
                      key=lambda r: r.id)
    return [r.replay["divergence"] for r in diverged if r.replay]


def _replay_counts(replayed: list[ResultRow]) -> dict[str, int]:
    """Hits, misses and live calls summed over the replayed images."""
    return {"hits": sum(r.replay["hits"] for r in replayed if r.replay),
            "misses": sum(r.replay["misses"] for r in replayed if r.replay),
            "live_calls": sum(r.replay.get("live_calls", 0) for r in replayed if r.replay)}


def replay_summary(base: dict[str, ResultRow], rows: dict[str, ResultRow]) -> dict:
    """Counts for one replayed run against ``base`` (the first run compared)."""
    replayed = [r for r in rows.values() if r.replay is not None]
    return {"images": len(rows), "replayed": len(replayed), **_replay_counts(replayed),
            "stopped": sum(r.status == "replay_miss" for r in rows.values()),
            "diverged": _diverged(replayed), "changed": _changed(base, rows)}


def replay_lines(run_dirs: list[Path]) -> list[str]:
    """The comparison's replay section (empty when no run replayed another)."""
    base = _rows(run_dirs[0])
    summaries = [(d.name, replay_summary(base, _rows(d))) for d in run_dirs[1:]]
    summaries = [(n, s) for n, s in summaries if s["replayed"]]
    if not summaries:
        return []
    lines = ["", "## Replay", "",
             f"Against {run_dirs[0].name}: exchanges served from the record (hits), requests it "
             "lacked (misses), images stopped at a miss, images whose first divergence is listed "
             "below, and predictions that differ in any field but timings.", "",
             "| run | images | hits | misses | live calls | stopped | diverged | changed |",
             "|---|---|---|---|---|---|---|---|"]
    for name, s in summaries:
        lines.append(f"| {name} | {s['images']} | {s['hits']} | {s['misses']} | "
                     f"{s['live_calls']} | {s['stopped']} | {len(s['diverged'])} | "
                     f"{len(s['changed'])} |")
    for name, s in summaries:
        if not s["diverged"]:
            continue
        lines += ["", f"### Divergences of {name}", ""]
        for d in s["diverged"][:SHOWN]:
            near = f"; nearest recorded: step {d['nearest']} ({d['recorded']})" \
                if d.get("nearest") is not None else ""
            what = f"{d['kind']}{' ' + d['name'] if d.get('name') else ''}"
            lines.append(f"- **{d['image']}** step {d['step']} [{what}]: {d['why']}{near}")
        if len(s["diverged"]) > SHOWN:
            lines.append(f"- … and {len(s['diverged']) - SHOWN} more")
    return lines


__all__ = ["replay_lines", "replay_summary", "without_timings"]

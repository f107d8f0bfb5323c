"""Running probes through the real offline pipeline, scoring them, and the report.

One warm ``Geolocator`` per worker process (at most two: the machines are shared); each worker
renders its probe itself, so the parent only hands out specs. A probe's record keeps its truth,
the prediction and the evidence the answer rests on, so a later run can be compared probe by probe.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sinoloc.benchmarks.probe_data import KINDS, Probe

if TYPE_CHECKING:
    from sinoloc.agent.api import Geolocator

SETTINGS = {"offline": True, "ignore_exif": True}
LEVELS = ("province", "city", "district")
_LOCATOR: Geolocator | None = None  # this worker's, set by _init_worker
_TMP: Path | None = None


def _init_worker(settings: dict, workdir: str) -> None:
    """Build the Geolocator once and warm it (OCR models, region index, phone data)."""
    global _LOCATOR, _TMP
    import numpy as np

    from sinoloc import Geolocator
    from sinoloc.benchmarks.probe_render import procedural_background

    _TMP = Path(workdir)
    _LOCATOR = Geolocator(settings=settings)
    warm = _TMP / f"warm-{os.getpid()}.jpg"
    procedural_background(np.random.default_rng(0)).save(warm, quality=90)
    _LOCATOR.locate(warm)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 6371.0088 * 2 * math.asin(min(1.0, math.sqrt(a)))


def score(probe: Probe, pred: dict | None) -> dict:
    """Per-level correctness (None where the truth does not name that level) and km error."""
    truth = probe.truth
    if pred is None:
        return {"province": False, "city": False if truth.city_adcode else None,
                "district": False if truth.district_adcode else None, "km": None, "clue_read": False}
    evidence_text = " ".join(e["text"].replace(" ", "") for e in pred["evidence"])
    return {
        "province": pred["province_adcode"] == truth.province_adcode,
        "city": pred["city_adcode"] == truth.city_adcode if truth.city_adcode else None,
        "district": pred["district_adcode"] == truth.district_adcode if truth.district_adcode else None,
        "km": round(haversine_km(truth.lat, truth.lon, pred["lat"], pred["lon"]), 2),
        "clue_read": probe.key in evidence_text,
    }


def run_probe(task: tuple[dict, str | None, bool]) -> dict:
    """Render one probe, locate it, return its record (a failure is recorded, not raised)."""
    from sinoloc.benchmarks.probe_render import render_probe

    if _LOCATOR is None or _TMP is None:
        raise RuntimeError("run_probe runs after _init_worker (in the pool's initializer)")
    spec, background, keep = task
    probe = Probe.model_validate(spec)
    path = _TMP / f"{probe.id}.jpg"
    render_probe(probe.sign, probe.plate, probe.seed, Path(background) if background else None) \
        .save(path, quality=90)
    start = time.perf_counter()
    pred, error = None, None
    try:
        p = _LOCATOR.locate(path)
        pred = {"province": p.province, "province_adcode": p.province_adcode, "city": p.city,
                "city_adcode": p.city_adcode, "district": p.district, "district_adcode": p.district_adcode,
                "lat": round(p.lat, 5), "lon": round(p.lon, 5), "basis": p.basis,
                "confidence": p.confidence.model_dump(mode="json"),
                "first_candidate": ({"adcode": p.candidates[0].adcode, "district": p.candidates[0].district,
                                     "probability": p.candidates[0].probability} if p.candidates else None),
                "evidence": [{"id": e.id, "kind": getattr(e.kind, "value", str(e.kind)), "text": e.text}
                             for e in p.evidence]}
    except Exception as exc:  # a crash on one probe is a finding, not the end of the run
        error = f"{type(exc).__name__}: {exc}"[:300]
    seconds = round(time.perf_counter() - start, 3)
    if not keep:
        path.unlink(missing_ok=True)
    return {"probe": probe.model_dump(mode="json"), "background": background, "pred": pred,
            "score": score(probe, pred), "seconds": seconds, "error": error,
            "image": str(path) if keep else None}


def run_probes(tasks: list[tuple[dict, str | None, bool]], workers: int, workdir: Path,
               settings: dict = SETTINGS, progress=None) -> list[dict]:
    """Records in the order of ``tasks``; pictures are written under ``workdir``."""
    if workers <= 1:
        _init_worker(settings, str(workdir))
        results = []
        for task in tasks:
            results.append(run_probe(task))
            if progress:
                progress(len(results), len(tasks))
        return results
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # onnxruntime's threads do not survive a fork
    with ctx.Pool(workers, initializer=_init_worker, initargs=(settings, str(workdir))) as pool:
        results = []
        for record in pool.imap(run_probe, tasks, chunksize=1):
            results.append(record)
            if progress:
                progress(len(results), len(tasks))
        return results


# ---------------------------------------------------------------- summary and report
def _rate(values: list[bool | None]) -> dict:
    scored = [v for v in values if v is not None]
    return {"n": len(scored), "correct": sum(scored),
            "accuracy": round(sum(scored) / len(scored), 4) if scored else None}


def _first_is_answer(pred: dict | None) -> bool | None:
    """Whether the candidate list starts with the answer's district (None: no district claimed)."""
    if not pred or not pred.get("district_adcode") or not pred.get("first_candidate"):
        return None
    return pred["first_candidate"]["adcode"] == pred["district_adcode"]


def summarise(records: list[dict]) -> dict:
    """Figures by kind (in the order of KINDS) and for all records together."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(record["probe"]["kind"], []).append(record)
    ordered = [k for k in KINDS if k in groups]
    return {name: _group_summary(group)
            for name, group in [*((k, groups[k]) for k in ordered), ("all", records)]}


def _group_summary(group: list[dict]) -> dict:
    """One row of the report: rates by level, the clue read, the first candidate, km, time, errors."""
    kms = [r["score"]["km"] for r in group if r["score"]["km"] is not None]
    return {
        "n": len(group),
        **{level: _rate([r["score"][level] for r in group]) for level in LEVELS},
        "clue_read": _rate([r["score"]["clue_read"] for r in group]),
        "first_candidate_is_answer": _rate([_first_is_answer(r["pred"]) for r in group]),
        "km_mean": round(statistics.fmean(kms), 1) if kms else None,
        "km_median": round(statistics.median(kms), 1) if kms else None,
        "seconds_median": round(statistics.median(r["seconds"] for r in group), 3),
        "errors": sum(1 for r in group if r["error"]),
    }


def _pct(rate: dict) -> str:
    if rate["accuracy"] is None:
        return "–"
    return f"{100 * rate['accuracy']:.1f} % ({rate['correct']}/{rate['n']})"


def markdown(summary: dict, meta: dict) -> str:
    lines = [f"Probe benchmark: {meta['n']} probes, seed {meta['seed']}, backgrounds "
             f"{meta['backgrounds'] or 'procedural'}, code {meta['sinoloc']}, wall {meta['wall_s']} s "
             f"({meta['workers']} worker(s)).", "",
             "| kind | n | province | city | district | clue in evidence | answer = 1st candidate | mean km "
             "| median km | errors |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for kind, s in summary.items():
        rates = " | ".join(_pct(s[k]) for k in (*LEVELS, "clue_read", "first_candidate_is_answer"))
        lines.append(f"| {kind} | {s['n']} | {rates} | {s['km_mean']} | {s['km_median']} | {s['errors']} |")
    return "\n".join(lines) + "\n"


def _same_probe(a: dict, b: dict) -> bool:
    return all(a["probe"][k] == b["probe"][k] for k in ("truth", "sign", "plate", "seed"))


def _pairs(old: dict, new: dict) -> tuple[list[tuple[dict, dict]], list[str]]:
    """(old, new) records of the probes both runs asked, and the ids whose probe differs (same id,
    another sign, plate, truth or seed: not comparable, so left out of the pairs)."""
    old_by_id = {r["probe"]["id"]: r for r in old["probes"]}
    pairs = [(old_by_id[r["probe"]["id"]], r) for r in new["probes"] if r["probe"]["id"] in old_by_id]
    differ = [n["probe"]["id"] for o, n in pairs if not _same_probe(o, n)]
    return [(o, n) for o, n in pairs if _same_probe(o, n)], differ


def _delta_lines(kind: str, before: dict, after: dict) -> list[str]:
    """One kind's table rows: each rate both runs have, then mean and median km."""
    lines = []
    for level in (*LEVELS, "clue_read", "first_candidate_is_answer"):
        a, b = after[level]["accuracy"], before[level]["accuracy"]
        if a is None or b is None:
            continue
        lines.append(f"| {kind} | {level} | {100 * b:.1f} % | {100 * a:.1f} % | {100 * (a - b):+.1f} |")
    for key in ("km_mean", "km_median"):
        if after[key] is not None and before[key] is not None:
            lines.append(f"| {kind} | {key} | {before[key]} | {after[key]} | "
                         f"{after[key] - before[key]:+.1f} |")
    return lines


def _changed(pairs: list[tuple[dict, dict]]) -> tuple[list[str], list[str]]:
    """'id (level)' of each level a probe now gets right (fixed) or now gets wrong (broken)."""
    fixed: list[str] = []
    broken: list[str] = []
    for prev, record in pairs:
        for level in LEVELS:
            a, b = record["score"][level], prev["score"][level]
            if a is not None and b is not None and a != b:
                (fixed if a else broken).append(f"{record['probe']['id']} ({level})")
    return fixed, broken


def compare(old: dict, new: dict) -> str:
    """Before/after deltas by kind and level over the probes both runs asked (same id, same sign,
    plate and truth), and those whose answers changed. Summaries are recomputed from the records,
    so files written by another version of this module compare."""
    pairs, differ = _pairs(old, new)
    old_summary, new_summary = summarise([o for o, _ in pairs]), summarise([n for _, n in pairs])
    lines = ["| kind | level | before | after | Δ |", "|---|---|---|---|---|"]
    for kind, after in new_summary.items():
        lines += _delta_lines(kind, old_summary[kind], after)
    fixed, broken = _changed(pairs)
    lines += ["", f"probes compared: {len(pairs)} (new run {len(new['probes'])}, "
              f"old run {len(old['probes'])}, same id but a different probe {len(differ)}); "
              f"fixed {len(fixed)}, broken {len(broken)}"]
    if broken:
        lines.append("broken: " + ", ".join(broken))
    if differ:
        lines.append("different probe under the same id: " + ", ".join(differ[:20]))
    return "\n".join(lines) + "\n"

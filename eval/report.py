"""``sinoloc eval report`` and ``sinoloc eval compare``: Markdown with PNG figures.

The published reference numbers (``data/reference_results.csv``, each row with its source) are
printed beside ours; they come from a different test set, which the report says.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from sinoloc.eval import metrics as m
from sinoloc.eval.agreement import AgreementStats, agreement_lines, agreement_stats, mean_agreement
from sinoloc.eval.replay_compare import replay_lines
from sinoloc.eval.runner import RunRecord, load_record, rows_of
from sinoloc.eval.scoring import (
    LEVELS,
    LocatabilityStats,
    ScoredImage,
    Summary,
    locatability_stats,
    score_row,
    slices,
    summarize,
    total_area,
)
from sinoloc.tools.regions import RegionIndex


class Reference(BaseModel):
    system: str
    dataset: str
    mean_km: float
    geometric_mean_km: float
    within_200_km: float
    within_750_km: float
    source: str


def references() -> list[Reference]:
    text = resources.files("sinoloc.eval").joinpath("data", "reference_results.csv").read_text(
        encoding="utf-8")
    rows = [Reference.model_validate(r) for r in csv.DictReader(text.splitlines())]
    if any(not r.source.strip() for r in rows):
        raise ValueError("every reference result needs a source")
    return rows


class ScoredRun(BaseModel):
    name: str
    record: RunRecord
    images: list[ScoredImage]


def score_run(run_dir: Path, index: RegionIndex) -> ScoredRun:
    record = load_record(run_dir)
    images = [score_row(row, index) for row in rows_of(run_dir)]
    return ScoredRun(name=run_dir.name, record=record, images=images)


# ------------------------------------------------------------------ formatting
def _km(value: float) -> str:
    return "–" if value != value else f"{value:,.1f}"


def _pct(value: float) -> str:
    return "–" if value != value else f"{value:.1%}"


def _ci(interval, fmt) -> str:
    if interval.low != interval.low:
        return fmt(interval.value)
    return f"{fmt(interval.value)} [{fmt(interval.low)}, {fmt(interval.high)}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows)]


def headline_rows(label: str, s: Summary, with_ci: bool = True) -> list[str]:
    show = (lambda i, f: _ci(i, f)) if with_ci else (lambda i, f: f(i.value))
    return [label, str(s.images), show(s.mean_km, _km), show(s.geometric_mean_km, _km),
            show(s.median_km, _km), *(show(s.within_km[str(t)], _pct)
                                      for t in m.DISTANCE_THRESHOLDS_KM),
            show(s.score, lambda v: f"{v:,.0f}"),
            *(show(s.levels[level].top1, _pct) for level in LEVELS)]


HEADLINE = ["run", "images", "mean km", "geo-mean km", "median km",
            *(f"<{t} km" for t in m.DISTANCE_THRESHOLDS_KM), "score", "province", "city",
            "district"]


def _reference_rows() -> list[list[str]]:
    return [[f"{r.system} (published, {r.dataset})", "–", _km(r.mean_km),
             _km(r.geometric_mean_km), "–", "–", "–", _pct(r.within_200_km),
             _pct(r.within_750_km), "–", "–", "–", "–", "–"] for r in references()]


def _level_table(s: Summary) -> list[str]:
    return _table(["level", "top-1", "top-3", "answer rate", "accuracy (answered)", "recall",
                   "F1", "ECE"],
                  [[level, _ci(v.top1, _pct), _pct(v.top3), _pct(v.answer_rate),
                    _pct(v.precision), _pct(v.recall), f"{v.f1:.3f}", f"{v.ece:.3f}"]
                   for level, v in s.levels.items()])


def _slice_table(title: str, groups: dict[str, Summary]) -> list[str]:
    rows = [[name, str(g.images), _km(g.mean_km.value), _km(g.median_km.value),
             _pct(g.within_km["200"].value), _pct(g.levels["province"].top1.value),
             _pct(g.levels["city"].top1.value)] for name, g in groups.items()]
    return ["", f"### By {title}", "",
            *_table([title, "images", "mean km", "median km", "<200 km", "province", "city"],
                    rows)]


def _resampling(summary: Summary, cluster: str | None) -> str:
    if cluster:
        return (f"95 % bootstrap over the {summary.clusters} clusters of `{cluster}` (images of "
                "one cluster are resampled together)")
    return ("95 % bootstrap over images, which assumes they are independent; pass --cluster "
            "COLUMN when images come in groups (one route, one street)")


def _rho(value: float) -> str:
    """A correlation, or why there is none (it is undefined when one side never varies)."""
    if value != value:
        return "undefined (one side is the same for every image, or fewer than 3 images)"
    return f"{value:+.3f}"


def cluster_warning(summary: Summary, cluster: str | None) -> list[str]:
    """The report's warning line when the cluster bootstrap has too few clusters."""
    warning = m.few_clusters_warning(summary.clusters, cluster)
    return [f"- **warning**: {warning}"] if warning else []


def headline_text(s: Summary) -> str:
    """One line of the numbers people look at first (printed at the end of ``eval run``)."""
    levels = " · ".join(f"{level} {_pct(s.levels[level].top1.value)}" for level in LEVELS)
    return (f"{s.images} images, {s.answered} answered: mean {_km(s.mean_km.value)} km · median "
            f"{_km(s.median_km.value)} km · <25 km {_pct(s.within_km['25'].value)} · {levels}")


WORST = 10


def _worst_table(images: list[ScoredImage]) -> list[str]:
    """The largest errors, to look at first (full rows are in images.jsonl)."""
    worst = sorted(images, key=lambda i: -i.error_km)[:WORST]
    rows = [[i.id, i.status, i.truth_province or "?", _km(i.error_km),
             "–" if not i.answered else f"{i.lat:.4f}, {i.lon:.4f}", i.basis or "–"]
            for i in worst]
    return ["", f"## The {len(worst)} largest errors", "",
            *_table(["id", "status", "true province", "error km", "answer (lat, lon)", "basis"],
                    rows)]


def _conventions() -> list[str]:
    return ["", "## How these numbers are computed", "",
            "- Every image of the run counts. An image without an answer (failure, timeout, "
            "unreadable) is wrong at every level and its distance is scored at the "
            "no-evidence guess.",
            "- Geometric mean: exp(mean(ln(1 + d))) − 1, so a 0 km error counts.",
            f"- Score: 5000·exp(−10·d / {m.CHINA_DIAGONAL_KM:.0f} km), the GeoGuessr formula "
            "with China's bounding-box diagonal.",
            "- Recall vs Area: summed area of the ranked candidate districts down to the true "
            "one (the whole map when it is not listed); the figure in brackets is the mean "
            "recall over log-spaced areas from 10 km² to the map's area.",
            "- Answer rate / accuracy / recall / F1 per level as GeoReasoner defines them: "
            "accuracy among answered images, recall over all images.",
            "- ECE: expected calibration error of the stated per-level confidence, 10 bins.",
            "- Brackets: 95 % percentile bootstrap intervals (1000 resamples, seed 0), over "
            "images or over the clusters named with --cluster.",
            "- Published rows were measured on their own test sets; they are context, not a "
            "paired comparison."]


def _cost_lines(summary: Summary) -> list[str]:
    return [f"- latency per image: p50 {summary.latency_p50_s:.2f} s, p95 "
            f"{summary.latency_p95_s:.2f} s",
            f"- model calls {summary.model_calls_per_image:.2f}, tool calls "
            f"{summary.tool_calls_per_image:.2f}, tokens {summary.tokens_per_image:,.0f} "
            "per image" + (f", cost ${summary.cost_usd_per_image:.4f} per image (projected "
                           f"${1000 * summary.cost_usd_per_image:,.2f} per 1,000 images)"
                           if summary.cost_usd_per_image is not None else "")]


def _locatability_lines(located: LocatabilityStats) -> list[str]:
    return ["", "## Locatability", "",
            f"Over {located.images} images with a score (mean {located.mean_score:.2f}): "
            f"Spearman ρ with the error {_rho(located.spearman_vs_error_km)}, with a "
            f"district hit {_rho(located.spearman_vs_district_hit)}. `--slice "
            "locatability` tabulates the low / medium / high bands."]


def _report_figures(run: ScoredRun, area: float, index: RegionIndex, out_dir: Path) -> list[str]:
    """Draw the run's figures into ``out_dir``; the report's lines that show them (or say why
    there are none: matplotlib is an optional extra)."""
    from sinoloc.eval import plots as p

    try:
        figures = [
            ("Error CDF", p.error_cdf({run.name: run.images}, out_dir / "error_cdf.png")),
            ("Recall vs Area", p.rva_curve({run.name: run.images}, area, out_dir / "rva.png")),
            ("Reliability", p.reliability(run.images, out_dir / "reliability.png")),
            ("Errors on the map", p.error_map(run.images, index.district_outlines_wgs84(),
                                              out_dir / "error_map.png"))]
    except p.PlottingUnavailable as exc:
        return ["", f"_No figures: {exc}._"]
    return ["", "## Figures", "", *(f"![{title}]({path.name})" for title, path in figures)]


def _summary_json(run: ScoredRun, summary: Summary, located: LocatabilityStats | None,
                  groups: dict[str, dict[str, Summary]],
                  agreed: AgreementStats | None = None) -> str:
    """``summary.json``: the run's numbers, its locatability and agreement figures and every
    slice."""
    return json.dumps({"run": run.name, "config": run.record.config.model_dump(mode="json"),
                       "summary": summary.model_dump(mode="json"),
                       "locatability": located.model_dump(mode="json") if located else None,
                       "agreement": agreed.model_dump(mode="json") if agreed else None,
                       "slices": {k: {g: s.model_dump(mode="json") for g, s in v.items()}
                                  for k, v in groups.items()}},
                      ensure_ascii=False, indent=2, allow_nan=True)


def write_report(run_dir: Path, index: RegionIndex, out_dir: Path | None = None,
                 slice_by: tuple[str, ...] = (), plots: bool = True,
                 cluster: str | None = None) -> Path:
    """``report.md``, ``summary.json``, ``images.jsonl`` and the figures into ``out_dir``
    (default ``RUN/report``); returns the Markdown path."""
    run = score_run(run_dir, index)
    if not run.images:
        raise ValueError(f"{run_dir}: the run has no rows yet")
    out_dir = out_dir or run_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    area = total_area(index)
    summary = summarize(run.images, area, cluster=cluster)
    config = run.record.config
    last = run.record.sessions[-1] if run.record.sessions else None
    lines = [f"# Eval report: {run.name}", "",
             f"- dataset: `{run.record.dataset}` (sha256 {run.record.dataset_sha256[:12]}…)",
             f"- system: **{config.label()}**; EXIF ignored; top-k {config.top_k}; budgets "
             f"{config.max_model_calls} model calls, {config.max_tool_calls} tool calls, "
             f"{config.max_seconds:g} s; per-image timeout {config.timeout_s:g} s",
             f"- code: {json.dumps(last.code, ensure_ascii=False) if last else '?'}",
             f"- images: {summary.images} scored, {summary.answered} answered"
             + (f", failures {summary.failures}" if summary.failures else "")
             + (f", {len(run.record.skipped)} skipped by validation" if run.record.skipped
                else ""),
             f"- answered from no evidence (prior only): {_pct(summary.prior_only_share)}",
             f"- intervals: {_resampling(summary, cluster)}",
             *cluster_warning(summary, cluster),
             "", "## Distance and admin accuracy", "",
             *_table(HEADLINE, [headline_rows(run.name, summary), *_reference_rows()]),
             "", "## Per level", "", *_level_table(summary), "",
             f"Recall vs Area (districts): area under the curve {summary.rva_auc:.3f}.", "",
             "## Cost", "", *_cost_lines(summary),
             "", "## Slices"]
    groups = {"province": slices(run.images, "province", area)}
    for key in slice_by:
        groups[key] = slices(run.images, key, area)
    for key, table in groups.items():
        lines += _slice_table(key, table)
    located = locatability_stats(run.images)
    if located is not None:
        lines += _locatability_lines(located)
    agreed = agreement_stats(run.images)
    lines += agreement_lines(agreed)
    lines += _worst_table(run.images)
    if plots:
        lines += _report_figures(run, area, index, out_dir)
    lines += _conventions()
    (out_dir / "summary.json").write_text(
        _summary_json(run, summary, located, groups, agreed), encoding="utf-8")
    with (out_dir / "images.jsonl").open("w", encoding="utf-8") as f:
        for image in run.images:
            f.write(image.model_dump_json() + "\n")
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _paired_lines(names: list[str], shared: dict[str, list[ScoredImage]],
                  cluster: str | None) -> list[str]:
    """Each run against the first, image by image."""
    from sinoloc.eval.paired import paired_section

    first = names[0]
    lines = ["", "## Paired tests", "",
             f"Each run against {first}, image by image (p < 0.05 to call a difference; "
             "intervals: paired bootstrap over the same "
             + (f"clusters of `{cluster}`" if cluster else "images") + ")."]
    for name in names[1:]:
        lines += paired_section(first, shared[first], name, shared[name], cluster)
    return lines


def _comparison_figures(shared: dict[str, list[ScoredImage]], area: float,
                        out_dir: Path) -> list[str]:
    """Draw the comparison's figures; the lines that show them (or say why there are none)."""
    from sinoloc.eval import plots as p

    try:
        p.error_cdf(shared, out_dir / "error_cdf.png")
        p.rva_curve(shared, area, out_dir / "rva.png")
    except p.PlottingUnavailable as exc:
        return ["", f"_No figures: {exc}._"]
    return ["", "![Error CDF](error_cdf.png)", "", "![Recall vs Area](rva.png)"]


def _extra_row(name: str, s: Summary, images: list[ScoredImage]) -> list[str]:
    """The comparison's second table: area under RvA, calibration, latency, agreement among
    trajectories and the cost of all of them."""
    cost = f"${s.cost_usd_per_image:.4f}" if s.cost_usd_per_image is not None else "–"
    return [name, f"{s.rva_auc:.3f}", f"{s.levels['province'].ece:.3f}", f"{s.latency_p50_s:.2f}",
            str(max((i.samples for i in images), default=1)), mean_agreement(images),
            f"{s.model_calls_per_image:.2f}", f"{s.tool_calls_per_image:.2f}",
            f"{s.tokens_per_image:,.0f}", cost, _pct(s.answered / s.images)]


def _comparison_tables(runs: list[ScoredRun], shared: dict[str, list], common: int, area: float,
                       cluster: str | None) -> list[str]:
    """The comparison's heading and its two tables, each run scored on the ``common`` images
    all of them have (``shared``, by run), and each sampled run's accuracy by agreement."""
    rows: list[list[str]] = []
    extra: list[list[str]] = []
    warnings: list[str] = []
    for r in runs:
        s = summarize(shared[r.name], area, cluster=cluster)
        warnings = warnings or cluster_warning(s, cluster)
        rows.append(headline_rows(f"{r.name} ({r.record.config.label()})", s))
        extra.append(_extra_row(r.name, s, shared[r.name]))
    dropped = {r.name: len(r.images) - common for r in runs if len(r.images) > common}
    lines = ["# Comparison", "",
             f"Scored on the {common} images every run has"
             + (f" (left out: {dropped})" if dropped else "") + ".", *warnings, "",
             *_table(HEADLINE, [*rows, *_reference_rows()]), "",
             *_table(["run", "RvA area", "province ECE", "p50 s", "samples", "agreement",
                      "model calls", "tool calls", "tokens", "cost", "answered"], extra)]
    for r in runs:  # accuracy by agreement, for each run that sampled
        section = agreement_lines(agreement_stats(shared[r.name]))
        if section:
            lines += [section[0], section[1] + f" — {r.name}", *section[2:]]
    return lines


def write_comparison(run_dirs: list[Path], index: RegionIndex, out_dir: Path,
                     plots: bool = True, cluster: str | None = None) -> Path:
    """Side-by-side table of several runs, scored on the images all of them have."""
    runs = [score_run(d, index) for d in run_dirs]
    common = set.intersection(*({i.id for i in r.images} for r in runs))
    if not common:
        raise ValueError("the runs share no image")
    area = total_area(index)
    out_dir.mkdir(parents=True, exist_ok=True)
    shared = {r.name: [i for i in r.images if i.id in common] for r in runs}
    lines = _comparison_tables(runs, shared, len(common), area, cluster)
    if len(runs) > 1:
        lines += _paired_lines([r.name for r in runs], shared, cluster)
        lines += replay_lines(run_dirs)  # replayed runs: misses and divergences
    if plots:
        lines += _comparison_figures(shared, area, out_dir)
    lines += _conventions()
    path = out_dir / "comparison.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


__all__ = ["ScoredRun", "references", "score_run", "write_comparison", "write_report"]

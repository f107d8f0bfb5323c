"""Paired tests between two runs on the same images (``sinoloc eval compare``).

Two runs scored on the same images are not two independent samples: most of the variation is
in the images. Each test here compares the runs image by image, so that the question is only
"on these images, does B do better than A?":

* distance: Wilcoxon signed-rank on the per-image errors, with a paired bootstrap interval of
  the difference in mean and median error (same images, or same clusters, for both runs);
* admin hits (province / city / district top-1): exact McNemar on the images where exactly one
  run is right.

A verdict is "no difference" unless p < 0.05; runs that give the same answer on every image are
said to agree, with no test at all.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from sinoloc.eval import metrics as m
from sinoloc.eval.scoring import LEVELS, ScoredImage, slice_key

ALPHA = 0.05


class PairedResult(BaseModel):
    metric: str
    a: float
    b: float
    difference: float = Field(description="b - a")
    low: float | None = None
    high: float | None = None
    test: str
    detail: str
    p: float
    verdict: str


def _verdict(p: float, b_better: bool, name_b: str) -> str:
    if p >= ALPHA:
        return "no difference"
    return f"{name_b} better" if b_better else f"{name_b} worse"


def identical(a: list[ScoredImage], b: list[ScoredImage]) -> bool:
    """Whether the runs gave the same answer (point and admin hits) on every image."""
    return all(x.error_km == y.error_km and x.correct == y.correct for x, y in zip(a, b, strict=True))


def paired_tests(a: list[ScoredImage], b: list[ScoredImage], name_b: str = "B",
                 cluster: str | None = None, resamples: int = 1000) -> list[PairedResult]:
    """Every paired test of run ``b`` against run ``a``; both lists hold the same images (they
    are matched by id here, whatever their order)."""
    by_id = {i.id: i for i in b}
    a = [i for i in a if i.id in by_id]
    b = [by_id[i.id] for i in a]
    if not a:
        raise ValueError("paired tests need images both runs have")
    groups = [slice_key(i, cluster) for i in a] if cluster else None
    err_a = np.array([i.error_km for i in a])
    err_b = np.array([i.error_km for i in b])
    n, p = m.wilcoxon_signed_rank(err_a, err_b)
    out = []
    for metric, statistic in (("mean km", np.mean), ("median km", np.median)):
        diff, low, high = m.paired_bootstrap_ci(err_a, err_b, statistic, resamples=resamples,
                                                groups=groups)
        out.append(PairedResult(
            metric=metric, a=float(statistic(err_a)), b=float(statistic(err_b)), difference=diff,
            low=low, high=high, test="Wilcoxon signed-rank",
            detail=f"{n} image(s) with different errors", p=p,
            verdict=_verdict(p, float(np.median(err_b - err_a)) < 0, name_b)))
    for level in LEVELS:
        hits_a = [i.correct[level] for i in a]
        hits_b = [i.correct[level] for i in b]
        only_a, only_b, p_level = m.mcnemar(hits_a, hits_b)
        share_a, share_b = float(np.mean(hits_a)), float(np.mean(hits_b))
        out.append(PairedResult(
            metric=f"{level} top-1", a=share_a, b=share_b, difference=share_b - share_a,
            test="McNemar (exact)", detail=f"only A right {only_a}, only B right {only_b}",
            p=p_level, verdict=_verdict(p_level, only_b > only_a, name_b)))
    return out


def paired_section(name_a: str, a: list[ScoredImage], name_b: str, b: list[ScoredImage],
                   cluster: str | None = None) -> list[str]:
    """Markdown: ``b`` against ``a``, a table of tests, or the line saying they agree."""
    title = f"### {name_b} against {name_a}"
    if identical(a, b):
        return ["", title, "", f"No difference: the runs agree on every one of the {len(a)} "
                "images (same errors, same admin hits), so there is nothing to test."]
    rows = []
    for r in paired_tests(a, b, name_b, cluster):
        pct = "top-1" in r.metric
        fmt = (lambda v: f"{v:.1%}") if pct else (lambda v: f"{v:,.1f}")
        diff = (f"{r.difference:+.1%}" if pct else f"{r.difference:+,.1f}")
        if r.low is not None and r.low == r.low:
            diff += f" [{r.low:+,.1f}, {r.high:+,.1f}]"
        rows.append(f"| {r.metric} | {fmt(r.a)} | {fmt(r.b)} | {diff} | {r.test}: {r.detail} | "
                    f"{r.p:.3g} | {r.verdict} |")
    return ["", title, "",
            "| metric | " + name_a + " | " + name_b + " | difference (B − A) | test | p | verdict |",
            "|---|---|---|---|---|---|---|", *rows]


__all__ = ["PairedResult", "identical", "paired_section", "paired_tests"]

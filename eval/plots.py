"""The report's figures (matplotlib, headless): error CDF, Recall vs Area, reliability diagram,
map of errors. Each function writes one PNG and returns its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sinoloc.eval import metrics as m
from sinoloc.eval.scoring import LEVELS, ScoredImage


class PlottingUnavailable(RuntimeError):
    """matplotlib is not installed (``pip install '.[eval]' in the sinoloc clone``)."""


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise PlottingUnavailable(
            "plots need matplotlib: pip install '.[eval]' in the sinoloc clone") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


LINE_STYLES = ("-", "--", ":", "-.")


def curve_styles(curves: dict[str, np.ndarray]) -> dict[str, dict]:
    """Matplotlib keywords per run: each its own dash pattern, widths shrinking so that a curve
    drawn on top of an identical one leaves it visible, and a legend label that says which
    runs coincide (identical runs would otherwise hide each other)."""
    styles: dict[str, dict] = {}
    seen: list[tuple[str, np.ndarray]] = []
    for n, (label, values) in enumerate(curves.items()):
        same = next((other for other, v in seen if np.array_equal(v, values)), None)
        styles[label] = {"linestyle": LINE_STYLES[n % len(LINE_STYLES)],
                         "linewidth": max(3.0 - 0.6 * n, 1.0), "zorder": 2 + n,
                         "label": label + (f" (same as {same})" if same else "")}
        seen.append((label, values))
    return styles


def error_cdf(runs: dict[str, list[ScoredImage]], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    curves = {label: np.sort([max(i.error_km, 0.01) for i in images])
              for label, images in runs.items()}
    styles = curve_styles(curves)
    for label, errors in curves.items():
        ax.step(errors, np.arange(1, len(errors) + 1) / len(errors), where="post", **styles[label])
    for t in m.DISTANCE_THRESHOLDS_KM:
        ax.axvline(t, color="0.85", lw=0.8, zorder=0)
    ax.set(xscale="log", xlabel="error (km, log scale)", ylabel="share of images within",
           ylim=(0, 1), title="Error CDF")
    ax.legend(fontsize=8)
    return _save(fig, path)


def rva_curve(runs: dict[str, list[ScoredImage]], total_area: float, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    grid = m.rva_grid(total_area, 120)
    curves = {label: np.array([i.area_to_truth_km2 for i in images])
              for label, images in runs.items()}
    styles = curve_styles(curves)
    for label, areas in curves.items():
        style = styles[label]
        style["label"] += f" (area {m.rva_auc(areas, total_area):.3f})"
        ax.plot(grid, m.recall_at_areas(areas, grid), **style)
    ax.set(xscale="log", xlabel="accumulated area of ranked candidates (km², log scale)",
           ylabel="recall (truth inside)", ylim=(0, 1), title="Recall vs Area (districts)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def reliability(images: list[ScoredImage], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="perfect calibration")
    answered = [i for i in images if i.answered]
    for level in LEVELS:
        bins = [b for b in m.calibration_bins([i.confidence[level] for i in answered],
                                              [i.correct[level] for i in answered]) if b["count"]]
        ece = m.expected_calibration_error([i.confidence[level] for i in answered],
                                           [i.correct[level] for i in answered])
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o",
                label=f"{level} (ECE {ece:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="stated confidence", ylabel="accuracy",
           title="Reliability")
    ax.legend(fontsize=8)
    return _save(fig, path)


def error_map(images: list[ScoredImage], outlines: list[np.ndarray], path: Path) -> Path:
    plt = _pyplot()
    from matplotlib.collections import LineCollection

    fig, ax = plt.subplots(figsize=(7.5, 6))
    ax.add_collection(LineCollection(outlines, colors="0.82", linewidths=0.3, zorder=0))
    lines = [((i.truth_lon, i.truth_lat), (i.lon, i.lat)) for i in images
             if i.answered and i.lon is not None and i.lat is not None]
    ax.add_collection(LineCollection(lines, colors="tab:red", linewidths=0.6, alpha=0.5))
    errors = np.array([max(i.error_km, 0.1) for i in images])
    points = ax.scatter([i.truth_lon for i in images], [i.truth_lat for i in images],
                        c=np.log10(errors), cmap="viridis_r", s=16, zorder=3,
                        vmin=0, vmax=np.log10(2500))
    bar = fig.colorbar(points, ax=ax, shrink=0.8)
    bar.set_label("error, log10 km")
    ax.set(xlim=(73, 136), ylim=(17, 54.5), xlabel="longitude", ylabel="latitude",
           title="Truth (dots, coloured by error) → prediction (red lines)")
    ax.set_aspect(1.2)
    return _save(fig, path)

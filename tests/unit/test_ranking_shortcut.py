"""The candidate list's numpy shortcut ranks exactly as the full sort of every district did."""

from __future__ import annotations

import numpy as np
import pytest

from sinoloc.tools.fusion import Belief, listing_key


def _full_sort(belief: Belief, k: int, preferred: str | None):
    districts = belief.index.districts
    order = sorted(range(len(districts)), key=lambda i: listing_key(
        float(belief.probs[i]), districts[i].adcode, preferred))[:k]
    return [(districts[i].adcode, float(belief.probs[i])) for i in order]


@pytest.mark.parametrize("shape", ["distinct", "ties", "uniform", "sparse", "near_ties"])
def test_top_districts_equals_the_full_sort(regions, shape):
    rng = np.random.default_rng(len(shape))
    n = len(regions.districts)
    for trial in range(25):
        if shape == "distinct":
            p = rng.random(n)
        elif shape == "ties":
            p = np.round(rng.random(n), 2)
        elif shape == "uniform":
            p = np.ones(n)
        elif shape == "sparse":
            p = np.where(rng.random(n) < 0.01, rng.random(n), 1e-13 * rng.random(n))
        else:  # values a rounding step apart: ties at 12 decimals break by adcode
            p = 0.001 + rng.integers(0, 3, n) * 1e-13
        p = p / p.sum()
        belief = Belief(index=regions, probs=p, evidence_count=0)
        k = int(rng.integers(1, 60))
        preferred = regions.districts[int(rng.integers(n))].adcode if trial % 3 else None
        got = [(r.adcode, q) for r, q in belief.top_districts(k, preferred)]
        assert got == _full_sort(belief, k, preferred)

"""Ambiguous clues resolved by where people live.

A clue that names several regions at once (029 → 西安 / 咸阳, a plate letter shared by two cities,
鼓楼区 in four cities) used to support them equally, so the belief sat in their geometric middle.
A photo is far likelier to be taken where more people live, so the alternatives are weighted by
population (the proxy of :mod:`sinoloc.tools.places.population`).

Fusion (``tools/fusion.py``) gives every district of a supported region the region's weight
(support = max(weight × mask)), so a region's share of the clue's mass grows with its number of
districts. To make each alternative's share proportional to its population, its weight is set
proportional to its population *per district*; the densest alternative keeps the clue's
original weight, so the clue's strength at its level is unchanged. Regions below the clue's top
weight, or containing another of its regions (a plate's province at 0.3 behind its cities), are
background: left as they are, and no alternative drops below the background it lies in.
"""

from __future__ import annotations

from sinoloc.tools.clues.schema import RegionSupport
from sinoloc.tools.places.population import district_population
from sinoloc.tools.regions import RegionIndex, get_region_index

_MIN_SHARE = 0.02  # an alternative keeps at least this share of the top weight (never zero)
_TIE = 1e-9


def population_density(support: RegionSupport, index: RegionIndex) -> float | None:
    """Population per district of a supported region; None for an unknown region."""
    region = index.get(support.adcode, support.level)
    if region is None:
        return None
    mask = index.district_mask(region)
    count = int(mask.sum())
    return float(district_population(index)[mask].sum()) / count if count else None


def _reweighted(regions: list[RegionSupport], alternatives: list[int], top: float, contains,
                index: RegionIndex) -> list[RegionSupport]:
    """The alternatives at ``top`` weighted by population density against the densest (never
    below a region of the clue that contains them); unchanged when no density is known."""
    density = {i: population_density(regions[i], index) for i in alternatives}
    known = [d for d in density.values() if d]
    if not known:
        return regions
    densest = max(known)
    out = list(regions)
    for i in alternatives:
        known_density = density[i]
        share = max(known_density / densest if known_density else 0.0, _MIN_SHARE)
        floor = max((regions[j].weight for j in range(len(regions)) if contains(j, i)), default=0.0)
        out[i] = regions[i].model_copy(update={"weight": max(top * share, floor)})
    return out


def weight_by_population(regions: list[RegionSupport],
                         index: RegionIndex | None = None) -> list[RegionSupport]:
    """The same regions, the alternatives at the clue's top weight re-weighted by population
    density (the densest keeps the top weight). A region that contains another of the clue's
    regions (a plate's province behind its cities) is background: unchanged, and an alternative
    inside it never drops below it. A single region, or a list whose top weight is held by one
    alternative only, is returned unchanged."""
    if len(regions) < 2:
        return regions
    index = index or get_region_index()
    resolved = [index.get(r.adcode, r.level) for r in regions]
    top = max(r.weight for r in regions)

    def contains(outer: int, inner: int) -> bool:
        a, b = resolved[outer], resolved[inner]
        return a is not None and b is not None and a.key != b.key and index.is_within(b, a)

    alternatives = [i for i, r in enumerate(regions) if r.weight >= top - _TIE
                    and not any(contains(i, j) for j in range(len(regions)))]
    if len(alternatives) < 2:
        return regions
    return _reweighted(regions, alternatives, top, contains, index)

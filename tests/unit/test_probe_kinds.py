"""The probe kinds of what a sign implies (university, postcode, etc_card, bank, welcome): at
least 15 signs each, spread over provinces, every truth what its cited table says."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from sinoloc.benchmarks.probe_data import KINDS, generate_probes
from sinoloc.benchmarks.probe_kinds import READ_KINDS


@pytest.fixture(scope="module")
def probes():
    return generate_probes(seed=3, kinds=READ_KINDS)


def test_each_kind_has_15_signs_over_15_provinces_and_is_registered(probes):
    assert set(READ_KINDS) <= set(KINDS)
    provinces = defaultdict(set)
    for probe in probes:
        provinces[probe.kind].add(probe.truth.province_adcode)
    assert set(provinces) == set(READ_KINDS)
    for kind in READ_KINDS:
        assert sum(p.kind == kind for p in probes) >= 15, kind
        assert len(provinces[kind]) >= 15, kind
    assert [p.model_dump() for p in generate_probes(seed=3, kinds=READ_KINDS)] == \
        [p.model_dump() for p in probes]


def test_every_truth_is_what_its_source_says(probes, regions):
    from sinoloc.tools.knowledge.corpus import get_corpus
    from sinoloc.tools.knowledge.kinds import get_kinds

    kinds, corpus = get_kinds(), get_corpus()
    finest = {p.id: p.truth.district_adcode or p.truth.city_adcode or p.truth.province_adcode
              for p in probes}
    for probe in probes:
        if probe.kind == "university":
            institution = kinds.institutions[probe.key]
            assert institution.regions[0][0].adcode == finest[probe.id]
            assert probe.sign[0].startswith(probe.key)
        elif probe.kind == "postcode":
            code = re.search(r"\d{6}", probe.sign[-1]).group(0)
            assert code == probe.key and kinds.postcodes[code[:4]][0][0].adcode == finest[probe.id]
        elif probe.kind in ("etc_card", "bank"):
            entry = next(e for e in corpus.entries if any(p in "".join(probe.sign) for p in e.patterns)
                         and e.id.startswith("etc-card-" if probe.kind == "etc_card" else "bank-"))
            top = max(corpus.regions(entry), key=lambda rw: rw[1])[0]
            assert top.adcode == finest[probe.id], probe.id
        else:  # welcome: the name on the sign is the region's full or short name
            region = regions.get(finest[probe.id], probe.truth.level)
            assert probe.key in (region.name, region.short) and probe.key in probe.sign[0]


def test_half_the_universities_can_be_names_of_another_place(probes):
    elsewhere = [p for p in probes if p.kind == "university" and p.variant == "named_elsewhere"]
    assert len(elsewhere) >= 5  # 中山大学, 河北工业大学: the class a literal reader gets wrong

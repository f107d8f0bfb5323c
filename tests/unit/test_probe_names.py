"""The admin-name probe kinds (issue 28): enough signs, spread over provinces, truths that are
today's regions, and decoys that name no place of the truth's province."""

from __future__ import annotations

from collections import defaultdict

import pytest

from sinoloc.benchmarks.probe_data import generate_probes
from sinoloc.benchmarks.probe_names import NAME_KINDS, _homonym_names, homonym_classes
from sinoloc.tools.places.admin_changes import get_admin_changes


@pytest.fixture(scope="module")
def probes():
    return generate_probes(seed=3, kinds=NAME_KINDS)


def test_each_kind_has_at_least_15_signs_over_at_least_15_provinces(probes):
    provinces = defaultdict(set)
    for probe in probes:
        provinces[probe.kind].add(probe.truth.province_adcode)
    for kind in NAME_KINDS:
        assert len([p for p in probes if p.kind == kind]) >= 15, kind
        assert len(provinces[kind]) >= 15, kind


def test_an_old_name_probe_writes_the_old_name_and_its_truth_is_todays_region(probes, regions):
    old = defaultdict(list)  # an old name may have been used in several cities (城区: 大同, 长治)
    for change in get_admin_changes():
        old[change.old_name].append(change)
    for probe in (p for p in probes if p.kind == "old_name"):
        assert probe.key in "".join(probe.sign)
        finest = probe.truth.district_adcode or probe.truth.city_adcode
        assert any(finest in {r.adcode for r in change.regions} | {change.scope.adcode}
                   for change in old[probe.key])
        assert regions.get(finest) is not None


def test_a_homonym_decoy_names_no_region_of_the_truths_province(probes):
    shared = _homonym_names()
    for probe in (p for p in probes if p.kind == "homonym" and p.variant == "shared"):
        decoy = next(line for line in probe.sign if probe.key not in line)
        name = next(n for n in shared if decoy.startswith(n))
        assert probe.truth.province_adcode not in shared[name]


def test_the_listed_classes_hold_the_hard_cases():
    classes = homonym_classes()
    assert ("北区", ["闸北区"]) in classes["inside an old name"]
    assert any(form == "吉林" for form, _ in classes["city+province nested"])
    assert sum(len(rows) for rows in classes.values()) > 200


def test_the_homonym_classes_include_the_issues_cases():
    shared = _homonym_names()
    assert {"吉林", "海南", "大同", "西安"} <= set(shared)
    assert {"460000", "630000", "150000"} <= set(shared["海南"])  # 海南省, 海南州 (青海), 乌海's 海南区

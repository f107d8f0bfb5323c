"""The probe generator (coverage, truth, determinism) and the probe benchmark end to end."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import phonenumbers
import pytest

from sinoloc.benchmarks.probe_data import LITERAL_KINDS, MAINLAND, generate_probes
from sinoloc.benchmarks.probe_render import render_probe
from sinoloc.benchmarks.probe_tables import load_places


@pytest.fixture(scope="module")
def probes():
    return generate_probes(seed=5, kinds=LITERAL_KINDS)


@pytest.fixture(scope="module")
def guide_probes():
    found = generate_probes(seed=5, kinds=["guide_sign", "town_point"])
    assert {p.kind for p in found} == {"guide_sign", "town_point"}
    return found


def test_same_seed_same_probes_and_another_seed_differs(probes):
    again = generate_probes(seed=5, kinds=LITERAL_KINDS)
    assert [p.model_dump() for p in again] == [p.model_dump() for p in probes]
    other = generate_probes(seed=6, kinds=LITERAL_KINDS)
    assert [p.model_dump() for p in other] != [p.model_dump() for p in probes]


def test_every_kind_covers_all_31_mainland_provinces(probes, regions):
    covered = defaultdict(set)
    for probe in probes:
        covered[probe.kind].add(probe.truth.province_adcode)
    mainland = {p.adcode for p in regions.provinces() if p.kind in ("regular", "municipality")}
    assert len(mainland) == MAINLAND
    assert set(covered) == set(LITERAL_KINDS)
    for kind in LITERAL_KINDS:
        assert covered[kind] == mainland, kind
    assert len({p.id for p in probes}) == len(probes)
    # a full run stays within ~15 min on two shared cores (measured: 336 probes in 4 min)
    assert len(probes) <= 40 * len(LITERAL_KINDS)


def test_truth_is_a_consistent_admin_chain_with_its_point(probes, guide_probes, regions):
    for probe in probes + guide_probes:
        truth = probe.truth
        finest = truth.district_adcode or truth.city_adcode
        region = regions.get(finest, truth.level)
        assert region is not None, probe.id
        assert region.province_adcode == truth.province_adcode
        if probe.kind in ("guide_sign", "town_point"):  # the truth is a town's point in its region
            assert regions.is_within(regions.reverse(truth.lon, truth.lat), region), probe.id
        else:
            assert (region.lat, region.lon) == (truth.lat, truth.lon)
        if truth.district_adcode:
            assert region.city_adcode == truth.city_adcode
            assert truth.district in "".join(probe.sign) or probe.kind in ("town", "village",
                                                                           "town_point")


def test_landlines_are_valid_for_their_city_and_the_long_ones_are_not(probes):
    from sinoloc.benchmarks.probe_tables import area_codes

    covers = {code: covered for rows in area_codes().values() for code, covered in rows}
    for probe in probes:
        if probe.kind not in ("landline", "landline_long", "agree", "conflict"):
            continue
        number = re.search(r"0\d{2,3}-\d+", probe.sign[-1]).group(0)
        parsed = phonenumbers.parse(number, "CN")
        if probe.kind == "landline_long":
            assert not phonenumbers.is_valid_number(parsed), number
            assert len(number.split("-")[1]) in (8, 9)
            continue
        assert phonenumbers.is_valid_number(parsed), number
        assert phonenumbers.number_type(parsed) in (phonenumbers.PhoneNumberType.FIXED_LINE,
                                                    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
        code = number.split("-")[0][1:]
        assert probe.truth.city_adcode in covers[code], (probe.id, number)
        assert probe.key == (probe.truth.district if probe.kind == "agree" else f"0{code}")
        if probe.variant == "other":  # a non-capital city's own code, shared with no other city
            assert covers[code] == (probe.truth.city_adcode,)


def test_plates_name_their_city_and_confusable_serials_carry_o_or_i(probes):
    from sinoloc.benchmarks.probe_tables import plate_prefixes

    by_prefix = {prefix: city for rows in plate_prefixes().values() for prefix, city in rows}
    for probe in probes:
        if probe.kind == "plate":
            assert by_prefix[probe.key] == probe.truth.city_adcode
            assert not re.search(r"[OI]", probe.plate[2:])
        if probe.kind == "plate_confusable":
            assert probe.key.endswith("A") and re.search(r"[OI]", probe.plate[2:]), probe.plate
        if probe.kind == "conflict":  # the plate names another province than the truth
            assert by_prefix[probe.plate[:2]][:2] != probe.truth.province_adcode[:2]


def test_town_and_village_table_is_sourced_and_unique(regions):
    places = load_places()
    assert all("jionlp" in p.source for p in places)
    assert len({(p.kind, p.name) for p in places}) == len(places)
    for place in places:
        county = regions.get(place.county_adcode, "district")
        assert county is not None and county.name == place.county
        assert place.name.endswith("村" if place.kind == "village" else ("镇", "乡"))


def test_rendering_is_deterministic_and_draws_the_sign(probes):
    probe = next(p for p in probes if p.kind == "agree")
    first = np.asarray(render_probe(probe.sign, probe.plate, probe.seed))
    second = np.asarray(render_probe(probe.sign, probe.plate, probe.seed))
    blank = np.asarray(render_probe([], None, probe.seed))
    assert first.shape == (768, 1024, 3)
    assert np.array_equal(first, second)
    assert (first != blank).any(axis=2).mean() > 0.02  # the board covers part of the picture


def test_generation_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown probe kinds"):
        generate_probes(seed=0, kinds=["address", "smoke_signal"])


def test_guide_signs_list_places_nearest_first_on_a_route_of_the_province(guide_probes):
    from sinoloc.tools.knowledge import get_knowledge

    roads = get_knowledge().roads_by_code
    for probe in (p for p in guide_probes if p.kind == "guide_sign"):
        route, *stops = probe.sign
        road = roads[route.split()[0]]
        assert probe.truth.province_adcode in {p.adcode for p in road.provinces}, probe.id
        kms = [float(re.search(r"(\d+)\s*(?:km|公里)", s).group(1)) for s in stops]
        assert 2 <= len(stops) <= 3 and kms == sorted(kms), probe.sign
        assert probe.key in stops[0] and probe.truth.district is None  # a sign names no district


def test_town_point_truth_is_the_towns_point(guide_probes):
    from sinoloc.tools.places.town_points import get_town_points

    table = get_town_points()
    for probe in (p for p in guide_probes if p.kind == "town_point"):
        town = probe.note.split(",")[0]
        point = table.find(probe.truth.district_adcode, town)
        assert point is not None and (point.lat, point.lon) == (probe.truth.lat, probe.truth.lon)
        assert town in "".join(probe.sign)

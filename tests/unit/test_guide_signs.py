"""Guide signs ("PLACE N km" is a ring around PLACE, not PLACE) and town points (GeoNames)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from pydantic import ValidationError

from sinoloc.tools.clues import extract_text_clues
from sinoloc.tools.clues.schema import ClueKind, Ring
from sinoloc.tools.evidence import Evidence, EvidenceKind, clue_to_evidence
from sinoloc.tools.fusion import decide, fuse
from sinoloc.tools.places import town_points
from sinoloc.tools.regions import haversine_km
from sinoloc.tools.rings import ring_support


def evidence_of(*lines: str) -> list[Evidence]:
    out = []
    for i, line in enumerate(lines):
        for clue in extract_text_clues(line, f"S{i}"):
            item = clue_to_evidence(clue, "test")
            if isinstance(item, Evidence):
                out.append(item.model_copy(update={"id": f"E{len(out) + 1}"}))
    return out


# ---------------------------------------------------------------- town points
def test_town_point_table_validates_and_places_known_towns():
    table = town_points.get_town_points()
    assert len(table) > 10000
    nanxiang = table.find("310114", "南翔镇")
    assert nanxiang is not None and abs(nanxiang.lat - 31.30) < 0.05 and abs(nanxiang.lon - 121.31) < 0.05
    assert table.find("310114", "南翔") == nanxiang  # the bare name, unique in the district
    assert table.find("310114", "不存在镇") is None


@pytest.mark.parametrize("column, value, message", [
    ("lat", "95.0", "lat"), ("adcode", "31011", "adcode"), ("radius_km", "-1", "radius_km"),
    ("source", " ", "source"), ("matched", "guess", "match kind"), ("level", "village", "level"),
])
def test_a_broken_town_point_row_is_an_error(tmp_path, column, value, message):
    row = dict(zip(town_points.COLUMNS, ["district", "310114", "南翔镇", "31.29979", "121.31180", "3.50",
                                          "1799674", "full", "GeoNames (CC BY 4.0) test"], strict=True))
    row[column] = value
    bad = tmp_path / "town_points.csv.gz"
    with gzip.open(bad, "wt", encoding="utf-8") as f:
        f.write(",".join(town_points.COLUMNS) + "\n" + ",".join(row.values()) + "\n")
    with pytest.raises(town_points.TownPointError, match=message):
        town_points.read_points(bad)


def test_a_town_listed_twice_is_an_error(tmp_path):
    line = "district,310114,南翔镇,31.29979,121.31180,3.50,1799674,full,test\n"
    bad = tmp_path / "town_points.csv.gz"
    with gzip.open(bad, "wt", encoding="utf-8") as f:
        f.write(",".join(town_points.COLUMNS) + "\n" + line + line)
    with pytest.raises(town_points.TownPointError, match="twice"):
        town_points.read_points(bad)


def test_a_decided_town_puts_the_answer_at_its_point(regions):
    evidence = evidence_of("上海市嘉定区南翔镇")
    decision = decide(fuse(evidence, regions), evidence)
    assert decision.district_adcode == "310114"
    assert (decision.lat, decision.lon) == pytest.approx((31.29979, 121.31180), abs=1e-5)
    assert decision.precision_km == pytest.approx(town_points.get_town_points().find(
        "310114", "南翔镇").radius_km)


def test_a_town_alone_brings_its_point_and_a_district_alone_does_not(regions):
    [town] = [e for e in evidence_of("南翔镇人民政府") if e.kind is EvidenceKind.OCR_ADDRESS]
    [point] = town.place_points
    assert "南翔镇" in point.name
    [district] = evidence_of("上海市嘉定区")
    assert not district.place_points
    decision = decide(fuse([district], regions), [district])
    assert decision.precision_km > 5  # the district's spread, not a town's radius


# ---------------------------------------------------------------- guide signs
@pytest.mark.parametrize("line, place, km", [
    ("宁波 35 km", "宁波", 35), ("宁波35km", "宁波", 35), ("距余姚 18 公里", "余姚", 18),
    ("杭州 120公里", "杭州", 120), ("沈海高速宁波 35 km", "宁波", 35), ("南翔出口 5 km", "南翔", 5),
])
def test_a_place_with_a_distance_is_a_ring_not_here(line, place, km):
    clues = extract_text_clues(line)
    [guide] = [c for c in clues if c.kind is ClueKind.GUIDE_SIGN]
    assert guide.text == f"{km} km from {place}"
    assert guide.rings and all(r.distance_km == km for r in guide.rings)
    # the place is that far away: no address or town clue reads it as here
    assert not [c for c in clues if c.kind in (ClueKind.ADDRESS, ClueKind.PLACE)
                and place in c.text]


def test_a_place_without_a_distance_is_still_here():
    clues = extract_text_clues("宁波市海曙区")
    assert any(c.kind is ClueKind.ADDRESS for c in clues)
    assert not any(c.kind is ClueKind.GUIDE_SIGN for c in clues)


def test_words_of_the_sign_itself_are_not_places():
    assert not [c for c in extract_text_clues("前方出口 2 km") if c.kind is ClueKind.GUIDE_SIGN]


def test_the_evidence_says_how_far_and_from_what():
    [item] = evidence_of("宁波 35 km")
    assert item.kind is EvidenceKind.GUIDE_SIGN and item.text == "35 km from 宁波"
    assert not item.regions and item.point is None
    assert "宁波市" in item.detail and "not here" in item.detail
    Evidence.model_validate_json(item.model_dump_json())  # JSON round trip


def test_a_ring_holds_its_distance():
    with pytest.raises(ValidationError, match="band"):
        Ring(place="x", lat=30, lon=120, distance_km=50, inner_km=60, outer_km=80)


def test_ring_support_lies_in_the_band_and_not_at_the_centre(regions):
    ring = Ring(place="test", lat=30.27, lon=120.15, distance_km=100, inner_km=60, outer_km=110)
    support = ring_support(ring, regions)
    assert support.max() == 1.0
    centre = regions.reverse(120.15, 30.27)
    assert support[regions.district_position[centre.adcode]] == 0  # 杭州's core is not 60 km away
    for position in np.flatnonzero(support > 0.5):
        district = regions.districts[position]
        # a well-supported district comes within the band
        assert haversine_km(120.15, 30.27, district.lon, district.lat) < 110 + 60


def test_two_distances_answer_their_intersection(regions):
    # 15 km from 余姚 and 50 km from 宁波 (its seat 鄞州): 宁波's west — not 宁波's centre, and
    # nearer 余姚 than 宁波
    evidence = evidence_of("余姚 15 km", "宁波 50 km")
    decision = decide(fuse(evidence, regions), evidence)
    yuyao, ningbo = regions.lookup("余姚市")[0], regions.lookup("宁波市")[0]
    assert regions.get(decision.district_adcode, "district").city_adcode == ningbo.adcode
    to_yuyao = haversine_km(yuyao.lon, yuyao.lat, decision.lon, decision.lat)
    assert to_yuyao < 40
    alone = evidence_of("宁波市")
    at_ningbo = decide(fuse(alone, regions), alone)
    assert decision.district_adcode != at_ningbo.district_adcode


def test_a_sign_with_a_distance_no_longer_answers_the_place_itself(regions):
    # 杭州 120 km: wherever the answer is, it is not 杭州's seat district but that far from it
    from sinoloc.tools.clues.guide_signs import _seat

    evidence = evidence_of("杭州 120 km")
    decision = decide(fuse(evidence, regions), evidence)
    seat = _seat(regions.lookup("杭州市")[0], regions)
    assert decision.district_adcode != seat.adcode
    assert 60 < haversine_km(seat.lon, seat.lat, decision.lon, decision.lat) < 140


def test_a_town_shared_by_counties_takes_the_point_in_the_decided_one(regions):
    # 华亭镇 alone: 嘉定 and 莆田 both have one; with 嘉定区 read on another line the answer is
    # at 嘉定's 华亭镇, not the district's centre
    evidence = evidence_of("华亭镇", "嘉定区")
    [town] = [e for e in evidence if e.text == "华亭镇"]
    assert len(town.place_points) == 2
    decision = decide(fuse(evidence, regions), evidence)
    at = town_points.get_town_points().find("310114", "华亭镇")
    assert decision.district_adcode == "310114" and (decision.lat, decision.lon) == (at.lat, at.lon)


def test_a_county_name_does_not_hide_the_town_after_it(regions):
    # 宁化县河龙乡: the bare town name 县河 (elsewhere) must not swallow 河龙乡
    [address] = [e for e in evidence_of("宁化县河龙乡健康路25号") if e.regions]
    [point] = address.place_points
    assert "河龙乡" in point.name


def test_a_geonames_place_joins_a_town_only_inside_its_district(regions):
    from sinoloc.tools.places.build_town_points import match

    towns = [("district", "310114", "南翔镇"), ("district", "350302", "华亭镇"),
             ("district", "310114", "华亭镇")]

    def place(gid, names, lat, lon):
        return {"geonameid": gid, "alternatenames": names, "latitude": lat, "longitude": lon,
                "population": 0}

    matched, tally = match([
        place(1, ["Nanxiang", "南翔镇"], 31.2998, 121.3118),  # in 嘉定: joins
        place(2, ["南翔"], 39.90, 116.40),  # a 南翔 in Beijing: no 南翔镇 there
        place(3, ["华亭"], 25.3816, 118.8879),  # bare name, in 莆田 城厢: that 华亭镇 only
    ], towns, regions)
    assert {town: p["geonameid"] for town, (p, _) in matched.items()} == {
        ("district", "310114", "南翔镇"): 1, ("district", "350302", "华亭镇"): 3}
    assert matched[("district", "350302", "华亭镇")][1] == "bare"
    assert tally["named towns all outside the point's county"] == 1


def _span(text, x0, x1, y0, span_id):
    from sinoloc.tools.ocr import OcrSpan

    return OcrSpan(span_id=span_id, text=text, score=0.9, view_id="h000", heading=0,
                   box=[(x0, y0), (x1, y0), (x1, y0 + 40), (x0, y0 + 40)])


def test_a_sign_line_split_into_two_spans_keeps_its_distance():
    """OCR read "马鞍山" and "62公里" as two spans of one line: the place is 62 km away, not here."""
    from sinoloc.tools.clues import ClueKind, extract_clues

    clues = extract_clues([_span("马鞍山", 100, 220, 100, "T1"), _span("62公里", 240, 360, 100, "T2"),
                           _span("善厚19km", 100, 260, 160, "T3"), _span("来安", 100, 180, 220, "T4"),
                           _span("107km", 200, 320, 220, "T5")])
    assert sorted((c.kind, c.text) for c in clues) == [
        (ClueKind.GUIDE_SIGN, "107 km from 来安"), (ClueKind.GUIDE_SIGN, "19 km from 善厚"),
        (ClueKind.GUIDE_SIGN, "62 km from 马鞍山")]
    # each clue knows both lines it was read from (the photo draws both as its evidence)
    assert sorted((c.span_id, tuple(c.also_span_ids)) for c in clues) == [
        ("T1", ("T2",)), ("T3", ()), ("T4", ("T5",))]


def test_a_distance_on_another_line_is_not_joined():
    from sinoloc.tools.clues import ClueKind, extract_clues

    clues = extract_clues([_span("马鞍山市博望区", 100, 400, 100, "T1"),
                           _span("62公里", 100, 220, 300, "T2")])
    assert not [c for c in clues if c.kind is ClueKind.GUIDE_SIGN]

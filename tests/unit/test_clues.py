import pytest

from sinoloc.tools.clues import ClueKind, extract_text_clues
from sinoloc.tools.knowledge import get_knowledge


def kinds(text):
    return [(c.kind, [r.name for r in c.regions]) for c in extract_text_clues(text)]


def test_full_address_resolves_chain_and_keeps_street_query():
    clues = extract_text_clues("杭州市西湖区文三路138号", "T1")
    address = next(c for c in clues if c.kind is ClueKind.ADDRESS)
    assert [r.adcode for r in address.regions] == ["330106"]
    assert address.strength >= 0.95 and address.span_id == "T1"
    poi = next(c for c in clues if c.kind is ClueKind.POI_QUERY)
    assert poi.text == "文三路138号"


def test_province_prefixed_address():
    address = extract_text_clues("浙江省杭州市西湖区文三路")[0]
    assert address.regions[0].name == "浙江省杭州市西湖区"


def test_partial_address_district_only_is_ambiguous():
    clue = extract_text_clues("朝阳区")[0]
    assert {r.name for r in clue.regions} == {"北京市朝阳区", "吉林省长春市朝阳区"}
    assert "ambiguous" in clue.detail


def test_district_short_form_needs_its_city():
    assert extract_text_clues("西湖") == [] or all(
        c.kind is not ClueKind.ADDRESS for c in extract_text_clues("西湖"))
    clue = extract_text_clues("杭州 西湖")[0]
    assert clue.regions[0].name == "浙江省杭州市西湖区"


def test_street_named_after_a_city_is_not_that_city():
    assert all(c.kind is ClueKind.POI_QUERY for c in extract_text_clues("中山路88号"))
    assert all(c.kind is ClueKind.POI_QUERY for c in extract_text_clues("南京路步行街"))


@pytest.mark.parametrize("text,expected", [
    ("电话0571-88886666", {"浙江省杭州市"}),
    ("TEL 010-65123456", {"北京市"}),
    ("0991-1234567", {"新疆维吾尔自治区乌鲁木齐市"}),
    ("028-85551234", {"四川省成都市", "四川省资阳市", "四川省眉山市"}),
])
def test_landlines(text, expected):
    phone = next(c for c in extract_text_clues(text) if c.kind is ClueKind.PHONE)
    assert {r.name for r in phone.regions} == expected
    assert phone.strength >= 0.9


def test_mobile_block_is_weaker_than_landline():
    phone = next(c for c in extract_text_clues("联系电话13971234567") if c.kind is ClueKind.PHONE)
    assert phone.regions[0].name == "湖北省武汉市" and phone.strength < 0.7


def test_nationwide_number_has_no_region():
    phone = next(c for c in extract_text_clues("400-820-8820") if c.kind is ClueKind.PHONE)
    assert phone.regions == [] and phone.strength == 0


@pytest.mark.parametrize("text,city", [
    ("浙A·12345", "浙江省杭州市"), ("粤B12345", "广东省深圳市"), ("京N·A1234", "北京市"),
    ("川A 8P888", "四川省成都市"), ("鄂A·D12345", "湖北省武汉市"), ("新D12345", None),
])
def test_plates(text, city):
    plate = next(c for c in extract_text_clues(text) if c.kind is ClueKind.PLATE)
    if city:
        assert plate.regions[0].name == city
    assert plate.regions[-1].level == "province"


def test_plate_data_coverage():
    plates = get_knowledge().plates
    assert len(plates) >= 400
    assert {p[0] for p in plates} >= set("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")


def test_roads():
    clues = extract_text_clues("G6 京藏高速")
    road = next(c for c in clues if c.kind is ClueKind.ROAD)
    assert "西藏自治区" in {r.name for r in road.regions}
    assert any(c.kind is ClueKind.ROAD for c in extract_text_clues("前方G318"))


def test_watermark_is_ignored():
    clues = extract_text_clues("腾讯地图")
    assert [c.kind for c in clues] == [ClueKind.WATERMARK]
    assert [c.kind for c in extract_text_clues("百度地图 北京")] == [ClueKind.WATERMARK]


def test_place_named_dish_does_not_locate():
    clues = extract_text_clues("正宗兰州拉面")
    assert [c.kind for c in clues] == [ClueKind.MISLEADING]
    assert all(c.kind is not ClueKind.ADDRESS for c in extract_text_clues("沙县小吃"))


def test_knowledge_files_validate():
    k = get_knowledge()
    assert all(p.source for p in k.plates.values())
    assert len(k.roads_by_code) >= 100 and all(r.source for r in k.roads_by_code.values())
    assert all(r.kind in {"expressway", "national_road"} for r in k.roads_by_code.values())
    assert len(k.province_abbreviations) == 34

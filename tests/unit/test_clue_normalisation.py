"""Clue reading that survives real OCR: plate serials with O/I, separators, full-width forms,
new-energy plates, landlines a digit off, extensions, service numbers, one-character slips in
place names; and text that must not become a clue."""

import pytest

from sinoloc.tools import knowledge as knowledge_module
from sinoloc.tools.clues import ClueKind, extract_text_clues
from sinoloc.tools.clues.address import address_clue
from sinoloc.tools.clues.fuzzy import address_clue_with_slips, find_slips
from sinoloc.tools.clues.gazetteer import get_gazetteer
from sinoloc.tools.clues.phones import area_code
from sinoloc.tools.knowledge import KnowledgeError, PlateConfusionRow, get_knowledge

EXACT_PLATE = 0.85
EXACT_LANDLINE = 0.95


def plate(text):
    found = [c for c in extract_text_clues(text) if c.kind is ClueKind.PLATE]
    assert len(found) <= 1
    return found[0] if found else None


def phone(text):
    found = [c for c in extract_text_clues(text) if c.kind is ClueKind.PHONE]
    assert len(found) <= 1
    return found[0] if found else None


def city_of(clue):
    return next(r.name for r in clue.regions if r.level == "city")


# ------------------------------------------------------------------ plates
@pytest.mark.parametrize("text,city,corrected", [
    ("蒙A·YEOS8", "内蒙古自治区呼和浩特市", "O→0"),  # the finding
    ("皖A·OHNKJ", "安徽省合肥市", "O→0"),
    ("苏A·I2345", "江苏省南京市", "I→1"),
    ("苏A·1234I", "江苏省南京市", "I→1"),
    ("鄂A·12〇45", "湖北省武汉市", "〇→0"),
    ("浙a·12345", "浙江省杭州市", "lower-case"),
    ("京Ａ·１２３４５", "北京市", "full-width"),
])
def test_plate_serial_misreads_are_read_back_at_lower_confidence(text, city, corrected):
    clue = plate(text)
    assert clue is not None and city_of(clue) == city
    assert clue.text == text  # the text as read, for masking the line
    assert clue.confidence < EXACT_PLATE and corrected in clue.detail


def test_two_serial_corrections_cost_more_than_one():
    one, two = plate("蒙A·YEOS8"), plate("蒙A·YEOSI")
    assert two is not None and two.confidence < one.confidence < EXACT_PLATE


def test_too_many_impossible_serial_characters_is_not_a_plate():
    assert plate("京A·OOIOI") is None


@pytest.mark.parametrize("text", ["浙A·12345", "浙A•12345", "浙A.12345", "浙A-12345", "浙A 12345",
                                  "浙 A 12345", "浙A・12345", "浙A—12345", "车牌 浙A12345"])
def test_plate_separators_are_tolerated(text):
    clue = plate(text)
    assert clue is not None and city_of(clue) == "浙江省杭州市" and clue.confidence == EXACT_PLATE


@pytest.mark.parametrize("text", ["浙A－12345", "浙A　12345", "浙A．12345"])
def test_full_width_separators_are_tolerated_at_slightly_lower_confidence(text):
    clue = plate(text)
    assert clue is not None and city_of(clue) == "浙江省杭州市"
    assert EXACT_PLATE - 0.05 < clue.confidence < EXACT_PLATE


@pytest.mark.parametrize("text", [
    "粤B·D12345", "粤BD12345", "粤B D12345", "粤B·DF1234",  # small new-energy: D/F first
    "粤BF12345", "粤B12345D", "粤B·12345F",  # large new-energy: D/F last
])
def test_new_energy_plates(text):
    clue = plate(text)
    assert clue is not None and city_of(clue) == "广东省深圳市" and clue.confidence == EXACT_PLATE


@pytest.mark.parametrize("text", ["粤B123456", "粤BA12345", "粤B1234D5", "粤B·D1234A"])
def test_six_character_serials_must_have_the_new_energy_shape(text):
    assert plate(text) is None


@pytest.mark.parametrize("text,city,letter", [
    ("晋0·12345", "山西省长治市", "0→D"),  # 晋 has D and no Q: unambiguous
    ("蒙8·12345", "内蒙古自治区包头市", "8→B"),
    ("鲁5·12345", "山东省济南市", "5→S"),  # 鲁S: former 莱芜, now 济南
])
def test_digit_in_letter_position_read_when_only_one_letter_fits(text, city, letter):
    clue = plate(text)
    assert clue is not None and city_of(clue) == city and letter in clue.detail
    assert clue.confidence <= EXACT_PLATE - 0.15


def test_digit_in_letter_position_that_fits_two_letters_is_not_read():
    assert {"粤D", "粤Q"} <= set(get_knowledge().plates)
    assert plate("粤0·12345") is None


def test_digit_in_letter_position_needs_the_plate_layout():
    assert plate("晋012345") is None  # no separator before the serial: just digits after 晋


def test_traditional_province_character():
    clue = plate("滬A·12345")
    assert clue is not None and city_of(clue) == "上海市" and clue.confidence < EXACT_PLATE


# every provincial plate abbreviation in its traditional form (通用规范汉字表 繁简对照); most are
# written alike in both scripts, 粵 滬 魯 閩 遼 蘇 贛 晉 陝 寧 貴 雲 瓊 are not
TRADITIONAL_ABBREVIATIONS = {
    "京": "京", "津": "津", "冀": "冀", "晉": "晋", "蒙": "蒙", "遼": "辽", "吉": "吉", "黑": "黑",
    "滬": "沪", "蘇": "苏", "浙": "浙", "皖": "皖", "閩": "闽", "贛": "赣", "魯": "鲁", "豫": "豫",
    "鄂": "鄂", "湘": "湘", "粵": "粤", "桂": "桂", "瓊": "琼", "渝": "渝", "川": "川", "貴": "贵",
    "雲": "云", "藏": "藏", "陝": "陕", "甘": "甘", "青": "青", "寧": "宁", "新": "新",
}


def test_traditional_table_covers_every_mainland_abbreviation():
    assert set(TRADITIONAL_ABBREVIATIONS.values()) == {p[0] for p in get_knowledge().plates}


@pytest.mark.parametrize("traditional", sorted(TRADITIONAL_ABBREVIATIONS))
def test_every_traditional_province_abbreviation_on_a_plate_is_folded(traditional):
    simplified = TRADITIONAL_ABBREVIATIONS[traditional]
    expected = plate(f"{simplified}A·12345")
    assert expected is not None
    clue = plate(f"{traditional}A·12345")
    assert clue is not None and clue.regions == expected.regions
    if traditional != simplified:  # a folded character is a correction: it costs confidence
        assert clue.confidence < expected.confidence


@pytest.mark.parametrize("text", [
    "京ABOUTS", "沪ABOUT US", "新ABCDEF", "全新201910款", "新2023款", "京东 JD.COM",
    "ABCD1234", "IMG_20230101", "2023-12-01", "¥128.00", "身份证110101199003074518",
    "宁F·12345",  # 宁 has no F
    "新品上市 NEW ARRIVAL", "京A·", "粤B1234",
])
def test_text_that_is_not_a_plate_gives_no_plate(text):
    assert plate(text) is None


def test_confusion_table_is_data_with_provenance():
    confusions = get_knowledge().plate_confusions
    assert [r.meant for r in confusions[("serial", "O")]] == ["0"]
    assert [r.meant for r in confusions[("serial", "I")]] == ["1"]
    rows = [r for rows in confusions.values() for r in rows]
    assert all("GA 36-2018" in r.source for r in rows if r.position != "province")
    assert all(r.source.strip() for r in rows)


@pytest.mark.parametrize("row", [
    {"read": "A", "meant": "B", "position": "letter"},  # A is a valid letter: not a misread
    {"read": "O", "meant": "I", "position": "serial"},  # I is never valid in a serial
    {"read": "滬", "meant": "沪", "position": "suffix"},  # unknown position
    {"read": "翼", "meant": "X", "position": "province"},  # not an abbreviation
])
def test_confusion_rows_are_validated_at_load(monkeypatch, row):
    def rows(name, model):
        if name == "plate_ocr_confusions.csv":
            return [PlateConfusionRow(source="test", **row)]
        return original(name, model)

    original = knowledge_module.read_rows
    monkeypatch.setattr(knowledge_module, "read_rows", rows)
    from sinoloc.tools.regions import get_region_index
    with pytest.raises(KnowledgeError, match=r"plate_ocr_confusions\.csv"):
        knowledge_module.build_knowledge(get_region_index())


# ------------------------------------------------------------------ phones
@pytest.mark.parametrize("text,expected,why", [
    ("0351-26957224", {"山西省太原市"}, "one digit too many"),  # the finding
    ("0351-269572", {"山西省太原市"}, "one digit too few"),
    ("010-651234567", {"北京市"}, "one digit too many"),
    ("021-5555555", {"上海市"}, "one digit too few"),
    ("(0351)26957224", {"山西省太原市"}, "one digit too many"),
    ("０３５１－２６９５７２２４", {"山西省太原市"}, "one digit too many"),
    ("0351 2695 7224", {"山西省太原市"}, "one digit too many"),
    ("0351—26957224", {"山西省太原市"}, "one digit too many"),
    ("电话035126957224", {"山西省太原市"}, "one digit too many"),  # run together, but a phone
    ("Tel.0351-26957224", {"山西省太原市"}, "one digit too many"),
    ("0351-26957224转123", {"山西省太原市"}, "one digit too many"),
])
def test_landline_a_digit_off_gives_its_area_code_at_lower_confidence(text, expected, why):
    clue = phone(text)
    assert clue is not None and {r.name for r in clue.regions} == expected
    assert clue.confidence < EXACT_LANDLINE and why in clue.detail


def test_multi_city_area_code_a_digit_off_keeps_all_its_cities():
    clue = phone("028-855512345")
    assert {r.name for r in clue.regions} == {"四川省成都市", "四川省资阳市", "四川省眉山市"}


@pytest.mark.parametrize("text", ["０３５１－２６９５７２２", "0351—2695722", "0351 2695722", "0351.2695722",
                                  "0351－2695722", "(0351)2695722", "0351-2695722转123",
                                  "0351-2695722 ext 123", "0351-2695722 ext.123"])
def test_valid_landline_forms_keep_full_confidence(text):
    clue = phone(text)
    assert clue is not None and [r.name for r in clue.regions] == ["山西省太原市"]
    assert clue.confidence == EXACT_LANDLINE


def test_dash_extension_after_a_valid_number():
    clue = phone("0351-2695722-123")
    assert [r.name for r in clue.regions] == ["山西省太原市"] and "extension 123" in clue.detail
    assert clue.confidence < EXACT_LANDLINE


@pytest.mark.parametrize("text", ["400-820-8820", "４００－８２０－８８２０", "800-820-8820", "4008208820",
                                  "400 820 8820"])
def test_service_numbers_are_recognised_and_ignored(text):
    clue = phone(text)
    assert clue is not None and clue.regions == [] and clue.strength == 0
    assert "nationwide" in clue.detail


def test_mobile_block_still_read():
    clue = phone("手机 13971234567")
    assert [r.name for r in clue.regions] == ["湖北省武汉市"] and clue.strength < 0.7


@pytest.mark.parametrize("text", [
    "035126957224",  # a bare 12-digit run: no separator, no phone word
    "订单号 035126957224",
    "035-126957224",  # 035 is not an area code: the written split is wrong
    "0351-2023",  # far too short
    "0351-06957224", "0351-069572",  # a digit off, but subscriber numbers do not start with 0
    "0351-16957224",  # … nor with 1
    "0351-26957224123",  # far too long
    "2023-12-01", "05-12-2023", "价格 ¥1234.56", "0.35元", "身份证 110101199003074518",
    "1397123456",  # a mobile number a digit short: its block is not trusted
    "400-820-882",
])
def test_text_that_is_not_a_landline_gives_no_place(text):
    clue = phone(text)
    assert clue is None or clue.regions == []


def test_area_codes_are_a_prefix_code():
    """Reading an area code off a malformed number relies on no code being the start of
    another (0 + 2 digits vs 0 + 3 digits), checked against the phonenumbers metadata."""
    two = {f"{i}" for i in range(10, 100) if area_code(f"{i}")}
    three = {f"{i}" for i in range(100, 1000) if area_code(f"{i}")}
    assert {"10", "20", "21", "28", "29"} <= two and {"351", "991", "898", "731"} <= three
    assert area_code("35") is None and len(three) > 250
    assert not any(code[:2] in two for code in three)


# ------------------------------------------------------------------ place-name slips
@pytest.fixture(scope="module")
def gazetteer():
    return get_gazetteer()


def address(clues):
    return next((c for c in clues if c.kind is ClueKind.ADDRESS), None)


@pytest.mark.parametrize("text,meant", [
    ("浙江省杭州市西胡区文三路138号", "浙江省杭州市西湖区"),
    ("杭州市 西胡区", "浙江省杭州市西湖区"),
    ("杭州西胡区", "浙江省杭州市西湖区"),
    ("湖北省武汉市蔡店区", "湖北省武汉市蔡甸区"),
    ("北京市朝杨区", "北京市朝阳区"),  # municipality: the province and the city are one place
    ("四川省成部市", "四川省成都市"),  # a city name under its province
])
def test_one_character_slip_is_read_back_when_the_line_vouches(gazetteer, text, meant):
    clue = address(address_clue_with_slips(text, gazetteer))
    exact = address(address_clue_with_slips(_meant_text(text, meant), gazetteer))
    assert [r.name for r in clue.regions] == [meant]
    assert clue.confidence < exact.confidence and "OCR slip" in clue.detail


def _meant_text(text, meant):
    slips = find_slips(text, get_gazetteer())
    assert len(slips) == 1 and get_gazetteer().index.label(slips[0].meant) == meant
    return text[:slips[0].start] + slips[0].meant.name + text[slips[0].end:]


@pytest.mark.parametrize("text", [
    "西胡区",  # no province or city in the line
    "武汉市江复区",  # 江岸区, 江夏区, 江汉区 all fit: not unique
    "杭州市新城区",  # 新城区 is a real district (西安, 呼和浩特), not a slip
    "杭州市西湖路",  # a street, and the suffix must be read exactly
    "杭州市西湖区",  # nothing to repair
    "杭州市上海区",  # 上海 is read exactly (a city): the window overlaps an exact name
])
def test_slip_is_not_read_without_a_unique_vouched_match(gazetteer, text):
    assert find_slips(text, gazetteer) == []
    assert address_clue_with_slips(text, gazetteer) == address_clue(text, gazetteer)


def test_slip_that_adds_nothing_keeps_the_exact_reading(gazetteer):
    # 小店区 is read exactly and already gives the district: the city slip is not needed
    clue = address(address_clue_with_slips("山西省太愿市小店区", gazetteer))
    assert [r.name for r in clue.regions] == ["山西省太原市小店区"] and "OCR slip" not in clue.detail


def test_a_province_abbreviation_read_in_its_traditional_form_still_names_the_etc_card():
    """The recogniser reads 粤 as 粵 (plate_ocr_confusions.csv): 粵通卡 is Guangdong's ETC card."""
    [clue] = [c for c in extract_text_clues("粵通卡客户服务网点") if c.knowledge_id]
    assert clue.knowledge_id == "etc-card-guangdong" and clue.regions[0].adcode == "440000"
    # traditional patterns of Hong Kong and Taiwan signs are matched as they are
    assert [c.knowledge_id for c in extract_text_clues("恒生銀行")] == ["bank-hang-seng"]

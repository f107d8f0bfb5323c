"""The clue kinds an expert reads beyond literal admin names: universities and colleges (their
campus city, not the place in their name), postcodes, provincial ETC cards, regional banks and
welcome signs. Every table is cited data validated at load: a broken row stops the load with
its file and line."""

from importlib import resources

import pytest

from sinoloc.tools.clues import ClueKind, extract_text_clues
from sinoloc.tools.knowledge import KnowledgeError
from sinoloc.tools.knowledge.corpus import CorpusError, load_corpus
from sinoloc.tools.knowledge.kinds import (
    POSTCODES,
    UNIVERSITIES,
    UNIVERSITY_NAMES,
    build_kinds,
    get_kinds,
)


def _kinds_of(text, kind):
    return [c for c in extract_text_clues(text) if c.kind is kind]


def _names(clue):
    return {r.name: r.weight for r in clue.regions}


def _shipped(name):
    return resources.files("sinoloc.tools.knowledge").joinpath("data", name).read_text(encoding="utf-8")


def _with_line(name, line_no, edit):
    """The shipped file ``name`` with line ``line_no`` (1-based, the header is 1) edited."""
    lines = _shipped(name).splitlines()
    lines[line_no - 1] = edit(lines[line_no - 1])
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the tables
def test_tables_are_the_cited_sources_in_full():
    kinds = get_kinds()
    universities = _shipped(UNIVERSITIES).splitlines()[1:]
    assert len(universities) == 2919  # the MoE list as of 2025-06-20, every institution
    assert all("MoE 全国普通高等学校名单 2025-06-20 #" in row for row in universities)
    assert len(kinds.institutions) > len(universities)  # plus campuses, short names, (华东)/(北京)
    assert {p for p in kinds.postcodes if len(p) == 2} >= {"10", "20", "31", "51", "85"}
    assert sum(1 for p in kinds.postcodes if len(p) == 4) > 2000


@pytest.mark.parametrize("name, line_no, edit, message", [
    (UNIVERSITIES, 3, lambda row: row.replace("北京市,北京市", "北京市,火星市"), "no city called '火星市'"),
    (UNIVERSITIES, 3, lambda row: row.replace(",本科,", ",硕士,"), "level must be"),
    (UNIVERSITIES, 3, lambda row: row.rsplit(",", 1)[0] + ",", "needs a source"),
    (UNIVERSITIES, 3, lambda row: row.replace("中国人民大学", "北京大学"), "duplicate university"),
    (UNIVERSITY_NAMES, 2, lambda row: row.replace("山东大学,山东大学", "山东大学,山东不存在大学"),
     "is not in universities.csv"),
    (UNIVERSITY_NAMES, 2, lambda row: row.replace("济南市:1", "济南市:0.9"), "main campus has weight 1"),
    (UNIVERSITY_NAMES, 2, lambda row: row.replace(",campuses,", ",branch,"), "kind must be"),
    (POSTCODES, 2, lambda row: "1," + row.split(",", 1)[1], r"prefix\n  String should match pattern"),
    (POSTCODES, 2, lambda row: row.replace("内蒙古自治区", "火星省"), "no province called"),
])
def test_a_broken_row_stops_the_load_naming_file_and_line(regions, name, line_no, edit, message):
    with pytest.raises(KnowledgeError, match=message) as info:
        build_kinds(regions, {name: _with_line(name, line_no, edit)})
    assert f"{name}:{line_no}" in str(info.value)


def test_a_four_digit_prefix_must_lie_in_its_provinces_prefix(regions):
    text = _shipped(POSTCODES)
    line_no = next(i for i, row in enumerate(text.splitlines(), start=1) if row.startswith("1000,"))
    broken = _with_line(POSTCODES, line_no,
                        lambda row: row.replace("1000,北京市,北京市", "1000,天津市,天津市"))
    with pytest.raises(KnowledgeError, match=rf"{POSTCODES}:{line_no}: prefix 10 is not 天津市's"):
        build_kinds(regions, {POSTCODES: broken})


# ------------------------------------------------------------------ universities
@pytest.mark.parametrize("text, main, also", [
    ("中山大学南校区", "广东省广州市", {"广东省珠海市", "广东省深圳市"}),  # not 中山市
    ("河北工业大学", "天津市", set()),  # a Hebei university in Tianjin
    ("西藏民族大学", "陕西省咸阳市", set()),
    ("山东大学", "山东省济南市", {"山东省青岛市", "山东省威海市"}),
    ("哈尔滨工业大学", "黑龙江省哈尔滨市", {"山东省威海市", "广东省深圳市"}),
    ("昆山杜克大学", "江苏省苏州市昆山市", set()),  # a county-level city as 所在地
])
def test_a_university_points_to_its_campus_cities_main_first(text, main, also):
    clue, = _kinds_of(text, ClueKind.INSTITUTION)
    regions = _names(clue)
    assert regions.pop(main) == 1.0
    assert set(regions) == also and all(w < 1 for w in regions.values())
    assert not _kinds_of(text, ClueKind.ADDRESS)  # the place inside the name is masked


@pytest.mark.parametrize("text, city", [
    ("山东大学（威海）", "山东省威海市"), ("山东大学(威海)", "山东省威海市"),
    ("哈尔滨工业大学（深圳）", "广东省深圳市"), ("中山大学珠海校区", "广东省珠海市"),
    ("浙江大学海宁国际校区", "浙江省嘉兴市"), ("中国石油大学（华东）", "山东省青岛市"),
])
def test_a_campus_name_points_to_that_campus_alone(text, city):
    clue, = _kinds_of(text, ClueKind.INSTITUTION)
    assert set(_names(clue)) == {city}


@pytest.mark.parametrize("text, kind, place", [
    ("哈尔滨工业大学威海", ClueKind.INSTITUTION, "山东省威海市"),  # a campus without brackets
    ("山东大学青岛", ClueKind.INSTITUTION, "山东省青岛市"),
    ("北京大学深圳医院", ClueKind.ADDRESS, "广东省深圳市"),  # a branch where it has no campus
    ("浙江大学宁波", ClueKind.ADDRESS, "浙江省宁波市"),
])
def test_a_place_after_the_name_is_its_campus_or_branch(text, kind, place):
    clue, = [c for c in extract_text_clues(text) if c.kind in (ClueKind.INSTITUTION, ClueKind.ADDRESS)]
    assert clue.kind is kind and set(_names(clue)) == {place}


def test_a_base_name_shared_by_two_institutions_points_to_both():
    clue, = _kinds_of("中国石油大学", ClueKind.INSTITUTION)
    assert set(_names(clue)) == {"北京市", "山东省青岛市"}


def test_short_names_are_weaker_and_ambiguous_ones_are_not_names():
    short, = _kinds_of("欢迎报考浙大", ClueKind.INSTITUTION)
    full, = _kinds_of("浙江大学", ClueKind.INSTITUTION)
    assert set(_names(short)) == {"浙江省杭州市"} and short.strength < full.strength
    # 北大街 (a north main street), 武大郎 (a snack chain), 人大 (the people's congress), 南大
    # (南京/南开/南昌), 中大 (中山/中南/中央), 山大 (山东/山西): not in the short-name table
    for text in ("北大街", "武大郎烧饼", "区人大常委会", "南大门", "中大型车", "山大王"):
        assert not _kinds_of(text, ClueKind.INSTITUTION), text
    for text in ("吉大路", "郑大爷水饺"):  # a street, a person
        assert not _kinds_of(text, ClueKind.INSTITUTION), text


def test_a_short_name_inside_an_admin_name_is_the_admin_name():
    assert not _kinds_of("天津市南开区卫津路", ClueKind.INSTITUTION)
    address, = _kinds_of("天津市南开区卫津路", ClueKind.ADDRESS)
    assert set(_names(address)) == {"天津市南开区"}


# ------------------------------------------------------------------ postcodes
@pytest.mark.parametrize("text, city", [
    ("邮编：310012", "浙江省杭州市"), ("邮政编码 518000", "广东省深圳市"),
    ("地址：某路1号 邮编100089", "北京市"), ("郵編:610041", "四川省成都市"),
    ("邮编 030000", "山西省太原市"), ("邮编 850000", "西藏自治区拉萨市"),  # capitals' own offices
    ("邮编 830000", "新疆维吾尔自治区乌鲁木齐市"), ("邮编 200000", "上海市"),
])
def test_a_postcode_points_to_its_post_offices_city(text, city):
    clue, = _kinds_of(text, ClueKind.POSTCODE)
    assert set(_names(clue)) == {city}


def test_an_unknown_four_digit_prefix_falls_back_to_the_province():
    kinds = get_kinds()
    code = next(f"31{n:02d}00" for n in range(100) if f"31{n:02d}" not in kinds.postcodes)
    clue, = _kinds_of(f"邮编 {code}", ClueKind.POSTCODE)
    assert set(_names(clue)) == {"浙江省"}


def test_postcode_digits_are_no_other_clue_and_bare_digits_no_postcode():
    assert [c.kind for c in extract_text_clues("邮编：310012")] == [ClueKind.POSTCODE]
    assert not _kinds_of("订货热线 310012", ClueKind.POSTCODE)
    assert not _kinds_of("邮编：3100125", ClueKind.POSTCODE)  # seven digits are no postcode


# ------------------------------------------------------------------ ETC cards and banks
@pytest.mark.parametrize("text, province", [
    ("粤通卡办理点", "广东省"), ("本网点可办理苏通卡", "江苏省"), ("鲁通卡充值", "山东省"),
    ("八桂行卡服务网点", "广西壮族自治区"), ("天山行卡", "新疆维吾尔自治区"),
])
def test_a_provincial_etc_card_points_to_its_province(text, province):
    clue, = _kinds_of(text, ClueKind.KNOWLEDGE)
    assert set(_names(clue)) == {province} and clue.knowledge_id.startswith("etc-card-")


@pytest.mark.parametrize("text, home", [
    ("常熟农商银行", "江苏省苏州市常熟市"), ("顺德农商银行", "广东省佛山市顺德区"),
    ("瑞丰银行", "浙江省绍兴市柯桥区"), ("齐商银行", "山东省淄博市"), ("辽沈银行", "辽宁省"),
])
def test_a_regional_bank_points_to_its_home(text, home):
    clue, = _kinds_of(text, ClueKind.KNOWLEDGE)
    assert max(clue.regions, key=lambda r: r.weight).name == home


def test_a_broken_etc_card_row_is_rejected_with_file_and_line(tmp_path):
    header, *rows = (resources.files("sinoloc.tools.knowledge").joinpath(
        "data", "corpus", "scripts_signs_transport.csv").read_text(encoding="utf-8").splitlines())
    row = next(r for r in rows if r.startswith("etc-card-guangdong,"))
    path = tmp_path / "cards.csv"
    path.write_text("\n".join([header, row.replace("etc-card-guangdong", "etc-card-x")
                               .replace("440000:1", "449999:1").replace("粤通卡", "粤通卡X")]) + "\n",
                    encoding="utf-8")
    with pytest.raises(CorpusError, match="unknown adcode 449999") as info:
        load_corpus([path])
    assert f"{path}:2" in str(info.value)


# ------------------------------------------------------------------ welcome signs
@pytest.mark.parametrize("text, place", [
    ("宝安欢迎您", "广东省深圳市宝安区"),  # a short district name without its city
    ("欢迎您来到江宁区", "江苏省南京市江宁区"),
    ("杭州欢迎您！", "浙江省杭州市"),
    ("欢迎莅临浙江省杭州市", "浙江省杭州市"),
])
def test_a_welcome_sign_points_to_the_place_it_welcomes_you_to(text, place):
    clue, = _kinds_of(text, ClueKind.WELCOME)
    assert set(_names(clue)) == {place}
    assert not _kinds_of(text, ClueKind.ADDRESS)  # one sign, one mention


def test_an_ambiguous_welcome_splits_by_population_and_a_shop_greeting_is_no_welcome():
    clue, = _kinds_of("朝阳欢迎您", ClueKind.WELCOME)
    weights = _names(clue)
    assert set(weights) == {"北京市朝阳区", "吉林省长春市朝阳区", "辽宁省朝阳市"}
    assert weights["北京市朝阳区"] == max(weights.values())
    assert not _kinds_of("欢迎光临杭州大酒店", ClueKind.WELCOME)
    assert not _kinds_of("欢迎光临本店", ClueKind.WELCOME)


# ------------------------------------------------------------------ the knowledge CLI's truth
def test_how_locate_reads_a_dish_a_watermark_and_a_university():
    from sinoloc.tools.clues.reading import how_locate_reads

    dish = how_locate_reads("兰州拉面")
    assert [c.kind for c in dish.ignored] == [ClueKind.MISLEADING] and not dish.used
    assert dish.rest == "" and "restaurant chain" in dish.why
    assert dish.lines() == [f"locate ignores '兰州拉面': {dish.ignored[0].detail}"]
    assert how_locate_reads("百度地图").rest == ""
    university = how_locate_reads("中山大学")
    assert [c.kind for c in university.used] == [ClueKind.INSTITUTION] and university.rest == ""
    assert "广东省广州市" in university.lines()[0]
    plain = how_locate_reads("汉口银行")
    assert plain.rest == "汉口银行" and plain.why == ""


def test_a_search_hit_through_an_ignored_phrase_is_not_kept():
    from sinoloc.tools.clues.reading import how_locate_reads
    from sinoloc.tools.knowledge.retrieval import get_knowledge_index

    index = get_knowledge_index()
    hits = index.search("兰州拉面", k=3)
    assert hits and any(r.name == "兰州市" for h in hits for r, _ in index.corpus.regions(h.entry))
    reading = how_locate_reads("兰州拉面")
    assert not index.search(reading.rest, k=3)  # every hit came through the dish's name

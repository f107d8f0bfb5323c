"""Admin names read as a person reads them: only where the text segments them as that name, old
names through the admin-change table, province/city homonyms, an explicit district over a town
of another county. Every hard case of the homonym list (scripts over the 2,875 districts, see the
issue-28 report) is one test case here."""

import csv
import re

import pytest

from sinoloc.tools.clues import ClueKind, extract_text_clues
from sinoloc.tools.clues.gazetteer import Gazetteer
from sinoloc.tools.evidence import clue_to_evidence
from sinoloc.tools.fusion import fuse
from sinoloc.tools.places.admin_changes import (
    COLUMNS,
    DATA_FILE,
    AdminChangeError,
    get_admin_changes,
    read_changes,
)
from sinoloc.tools.regions import Level, get_region_index


def addresses(text):
    return [c for c in extract_text_clues(text) if c.kind is ClueKind.ADDRESS]


def top(text):
    """The label of the address clue's first region, or None when the line names no region."""
    found = addresses(text)
    return found[0].regions[0].name if found else None


def answer(text):
    """(province, city, district) adcodes the belief over every clue of the line decides."""
    clues = [c for c in extract_text_clues(text) if c.regions and c.strength > 0]
    evidence = [clue_to_evidence(c, "test").model_copy(update={"id": f"E{i}"})
                for i, c in enumerate(clues, 1)]
    belief = fuse(evidence, get_region_index())
    return tuple(max(m, key=m.get) for m in (belief.marginal(level) for level in Level))


# ---------------------------------------------------------------- the hard cases
HARD_CASES = [
    # a short name inside a longer (old) admin name
    ("上海市闸北区天目西路218号", "上海市静安区"),  # 北区 of 闸北区 is not Hong Kong's 北区
    ("上海闸北区", "上海市静安区"),
    ("香港北区", "香港特别行政区北区"),  # after 香港 it is the Hong Kong district
    ("上海市卢湾区淮海中路", "上海市黄浦区"),
    ("上海市南市区", "上海市黄浦区"),
    # an admin name inside an institution's or a road's name
    ("中山大学", None),  # in 广州; the name alone is not 中山市
    ("中山公园", None),
    ("中山纪念堂", None),
    ("北京医院", "北京市"),  # a hospital named after its city stands in it
    ("杭州湾跨海大桥", None),  # joins 嘉兴 and 宁波: a bay named after 杭州, not 杭州市
    ("胶州湾隧道", None),  # in 青岛, not 胶州市
    ("杭甬高速", None),  # an expressway named by its ends
    ("哈尔滨绕城高速", "黑龙江省哈尔滨市"),  # a ring expressway runs around the city it names
    ("南京长江大桥", "江苏省南京市"),  # the name is 南京, then 长江大桥: the bridge is in 南京
    ("廊坊职业技术学院", None),  # an institution named after a city, read on a sign elsewhere
    ("杭州电子科技大学", None),
    ("杭州西湖区学院路", "浙江省杭州市西湖区"),  # 学院路 is a road: the names before it still count
    ("中山路88号", None),
    ("中山北一路", None),
    ("广州市中山大学", "广东省广州市"),
    ("北京路步行街", None),  # 广州's 北京路 is not in 北京
    # a dish named after a place (the misleading-words table masks it first)
    ("沙县小吃", None),  # 沙县 is also an old name now (沙县区, 2021): still a snack chain
    ("兰州拉面", None),
    ("重庆小面", None),
    ("南京东路", None),  # 上海's 南京东路 is not in 南京
    ("中山市石岐区", "广东省中山市"),
    ("大连市中山区", "辽宁省大连市中山区"),  # the district's short name next to its city
    # province/city homonyms
    ("吉林", "吉林省"),  # the province, not 吉林市
    ("吉林市船营区", "吉林省吉林市船营区"),
    ("吉林省长春市", "吉林省长春市"),
    ("海南", "海南省"),  # not 青海's 海南藏族自治州 or 乌海's 海南区
    ("海南藏族自治州", "青海省海南藏族自治州"),
    ("青海省海南", "青海省海南藏族自治州"),
    ("乌海市海南区", "内蒙古自治区乌海市海南区"),
    ("河北", "河北省"),  # not 天津's 河北区
    ("天津市河北区", "天津市河北区"),
    ("河南", "河南省"),  # not 黄南's 河南蒙古族自治县
    ("大同", "山西省大同市"),  # not 大庆's 大同区
    ("大庆市大同区", "黑龙江省大庆市大同区"),
    ("西安", "陕西省西安市"),  # not 辽源's or 牡丹江's 西安区
    ("辽源市西安区", "吉林省辽源市西安区"),
    ("资阳", "四川省资阳市"),  # not 益阳's 资阳区
    # 北区 / 南区 / 东区 / 西区 and the generic district names
    ("攀枝花市东区", "四川省攀枝花市东区"),
    ("攀枝花市西区", "四川省攀枝花市西区"),
    ("阳泉市城区", "山西省阳泉市城区"),
    ("济南市市中区", "山东省济南市市中区"),
    ("铜陵市郊区", "安徽省铜陵市郊区"),
    ("城区", None),
    # a current name holding another region's name (longest first)
    ("津南区", "天津市津南区"),  # not Hong Kong's 南区
    ("井陉矿区", "河北省石家庄市井陉矿区"),
    ("天津市河北区", "天津市河北区"),
    ("南京市江宁县", "江苏省南京市江宁区"),  # an old name holding 庆阳's 宁县
    ("绍兴县", "浙江省绍兴市柯桥区"),  # holding 吕梁's 兴县
    # a name only its street separates from the next name
    ("石家庄市桥西区中华北大街", "河北省石家庄市桥西区"),
    ("张家口市桥东区", "河北省张家口市桥东区"),
    ("迪庆藏族自治州香格里拉市里山彝族乡", "云南省迪庆藏族自治州香格里拉市"),  # 里 begins the town's name
]


@pytest.mark.parametrize(("text", "expected"), HARD_CASES)
def test_hard_case(text, expected):
    assert top(text) == expected


def test_without_the_change_table_a_two_character_name_inside_an_unknown_name_is_not_read():
    bare = Gazetteer(get_region_index(), ())  # 闸北区 unknown: 北区 must still not count
    resolution = bare.resolve("上海市闸北区天目西路218号")
    assert resolution is not None and resolution.region.name == "上海市"
    assert bare.resolve("香港北区").region.name == "北区"


def test_an_old_shanghai_name_does_not_send_the_answer_to_hong_kong():
    province, _, district = answer("上海市闸北区天目西路218号")
    assert (province, district) == ("310000", "310106")  # 静安区


def test_a_sign_naming_zhongshan_university_and_its_city_is_in_guangzhou():
    assert answer("广州市 中山大学")[1] == "440100"


# ---------------------------------------------------------------- old names
@pytest.mark.parametrize(("text", "district", "change"), [
    ("南京市白下区中山南路1号", "江苏省南京市秦淮区", "白下区 (merged into 秦淮区, 2013)"),
    ("广州市萝岗区科学大道", "广东省广州市黄埔区", "萝岗区 (merged into 黄埔区, 2014)"),
    ("江苏省苏州市吴江市松陵镇", "江苏省苏州市吴江区", "吴江市 (county-level city became 吴江区, 2012)"),
    ("南京白下", "江苏省南京市秦淮区", "白下区 (merged into 秦淮区, 2013)"),  # an old short name by its city
    ("萧山市城厢镇", "浙江省杭州市萧山区", "萧山市 (county-level city became 萧山区, 2001)"),
    ("北京市宣武区", "北京市西城区", "宣武区 (merged into 西城区, 2010)"),
    ("邢台市桥东区", "河北省邢台市襄都区", "桥东区"),  # an old name still current elsewhere
    ("杭州市江干区", "浙江省杭州市上城区", "江干区 (merged into 上城区, 2021)"),
    ("天津市东郊区", "天津市东丽区", "东郊区 (renamed 东丽区, 1992)"),  # the 1990s, from the code history
    ("青岛市莱西县", "山东省青岛市莱西市", "莱西县 (county became 莱西市, 1990)"),
])
def test_an_old_name_is_todays_district_and_the_evidence_names_the_change(text, district, change):
    [clue] = addresses(text)
    assert clue.regions[0].name == district
    assert "old name" in clue.detail and change.split(" ")[0] in clue.detail
    if "(" in change:
        assert change in clue.detail
    assert "民政部" in clue.source


def test_an_abolished_district_split_in_two_supports_both():
    [clue] = addresses("石家庄市桥东区")
    assert {r.name for r in clue.regions} == {"河北省石家庄市长安区", "河北省石家庄市桥西区"}


def test_an_old_short_name_alone_is_not_read():
    assert top("白下") is None  # 白下 alone: a word, not a place, without 南京 beside it


def test_white_lower_district_no_longer_answers_liuhe():
    assert answer("南京市白下区中山南路1号")[2] == "320104"


# ---------------------------------------------------------------- an explicit district over a town
def test_an_explicit_district_beats_a_town_of_another_county():
    clues = extract_text_clues("北京市朝阳区建国门街道")  # 建国门街道 is 东城区's
    assert not [c for c in clues if c.kind is ClueKind.PLACE]
    assert answer("北京市朝阳区建国门街道")[2] == "110105"


def test_a_town_name_straddling_two_admin_names_is_not_read():
    clues = extract_text_clues("陕西省商洛市镇安县建设路88号")  # 洛市镇 (丰城) across 商洛市|镇安县
    assert not [c for c in clues if c.kind is ClueKind.PLACE]


def test_a_town_inside_the_named_district_still_agrees():
    assert top("上海市嘉定区华亭镇") == "上海市嘉定区"


# ---------------------------------------------------------------- the change table
def test_change_table_validates_with_provenance_on_every_row():
    changes = get_admin_changes()
    assert len(changes) >= 150
    assert all(c.source and c.announcement.startswith("民政部") and c.year >= 1990 for c in changes)
    assert {c.change for c in changes} >= {"merged", "renamed", "split", "city_to_district",
                                           "county_to_district", "county_to_city"}
    # every row checked against the ministry's code history, cited by repository, commit and line
    assert all(re.match(r"yescallop/areacodes@[0-9a-f]{12} result\.csv:\d+ \(\d{6} ", c.source)
               for c in changes)
    assert sum(c.year < 2000 for c in changes) >= 150


def _broken(tmp_path, line: int, column: str, value: str):
    rows = list(csv.DictReader(DATA_FILE.open(encoding="utf-8")))
    rows[line][column] = value
    path = tmp_path / "admin_changes.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(("column", "value", "message"), [
    ("source", "", "empty source"),
    ("announcement", " ", "empty announcement"),
    ("year", "1975", "outside 1990"),
    ("year", "two thousand", "not a year"),
    ("change", "annexed", "not one of"),
    ("new_names", "不存在区", "no district called '不存在区'"),
    ("new_city", "不存在市", "no city called '不存在市'"),
    ("old_name", "鼓楼区", "still names a region"),
])
def test_a_broken_row_is_a_clear_error_naming_its_line(tmp_path, column, value, message):
    rows = list(csv.DictReader(DATA_FILE.open(encoding="utf-8")))
    line = next(i for i, r in enumerate(rows) if r["old_name"] == "下关区")  # 南京, merged into 鼓楼区
    with pytest.raises(AdminChangeError, match=message) as error:
        read_changes(get_region_index(), _broken(tmp_path, line, column, value))
    assert f"admin_changes.csv:{line + 2}" in str(error.value)

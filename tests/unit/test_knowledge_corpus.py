"""The clue corpus as data: every shipped entry valid and cited, every province and kind covered,
every sign pattern reachable; user files validated and merged; bad rows rejected with their
file and line."""

import re

import pytest

from sinoloc.tools.clues.gazetteer import get_gazetteer
from sinoloc.tools.clues.signs import sign_clues
from sinoloc.tools.knowledge.corpus import (
    USER_FILES_ENV,
    CorpusError,
    KnowledgeKind,
    corpus_for,
    get_corpus,
    load_corpus,
    parse_file,
    shipped_files,
)

HEADER = "id,kind,clue_zh,clue_en,regions,strength,exclusive,excludes,patterns,source\n"
GOOD_ROW = ("my-chain,commerce,某某连锁超市,Some regional chain,420100:1,0.7,,,某某连锁,"
            "https://example.org/my-chain\n")


@pytest.fixture(scope="module")
def corpus():
    return get_corpus()


def test_shipped_corpus_size_kinds_and_provinces(corpus, regions):
    assert len(corpus) >= 300
    stats = corpus.stats()
    assert set(stats["kind"]) == {k.value for k in KnowledgeKind}
    assert all(count >= 1 for count in stats["kind"].values())
    provinces = {p.name for p in regions.provinces()}
    assert len(provinces) == 34 and set(stats["province"]) == provinces
    assert all(count >= 10 for count in stats["province"].values()), stats["province"]


def test_every_entry_is_cited_and_consistent(corpus, regions):
    ids = [e.id for e in corpus.entries]
    assert len(ids) == len(set(ids))
    for entry in corpus.entries:
        assert entry.source and (re.search(r"https://\S+\.org/", entry.source)
                                 or re.match(r"(GB|GB/T|JTG|GA) [A-Z]?\d", entry.source)
                                 or re.match(r"https://github\.com/[\w.-]+/[\w.-]+/blob/[0-9a-f]{40}/",
                                             entry.source)), entry.id
        assert entry.clue_zh and entry.clue_en
        for region, weight in corpus.regions(entry):
            assert region is not None and 0 < weight <= 1
        for adcode in entry.excludes:
            assert regions.get(adcode) is not None
        assert (entry.strength > 0) == bool(entry.regions), entry.id


def test_the_scripts_that_localise_strongly_point_where_they_should(corpus, regions):
    def provinces(entry_id):
        return {regions.province_of(r).short for r, _ in corpus.regions(corpus.by_id[entry_id])}

    assert provinces("script-uyghur") == {"新疆"}
    assert {"西藏", "青海", "四川", "甘肃"} <= provinces("script-tibetan")
    assert "内蒙古" in provinces("script-mongolian")
    assert "吉林" in provinces("script-hangul")
    assert provinces("script-traditional-official") == {"香港", "澳门", "台湾"}
    assert corpus.by_id["script-uyghur"].strength >= 0.85


def test_every_sign_pattern_is_reachable_and_identifies_its_entry(corpus):
    gazetteer = get_gazetteer()
    for entry in corpus.entries:
        for pattern in entry.patterns:
            _, clues = sign_clues(pattern, corpus, gazetteer)
            assert [c.knowledge_id for c in clues] == [entry.id], pattern


def test_conflict_rules(corpus, regions):
    hainan = regions.lookup("海南省")[0]
    harbin = regions.lookup("哈尔滨市")[0]
    snow = corpus.by_id["climate-snow-cover"]
    assert "does not occur in 海南省" in corpus.conflict(snow, regions.lookup("三亚市")[0])
    assert corpus.conflict(snow, harbin) is None
    left = corpus.by_id["left-hand-traffic"]  # exclusive: only 香港 / 澳门
    assert "occurs only in" in corpus.conflict(left, harbin)
    assert corpus.conflict(left, regions.lookup("香港特别行政区")[0]) is None
    assert corpus.conflict(left, regions.lookup("湾仔区")[0]) is None
    assert corpus.conflict(corpus.by_id["veg-coconut-palm"], hainan) is None


def test_the_shipped_files_parse_one_by_one():
    files = shipped_files()
    assert len(files) >= 5
    assert sum(len(parse_file(f)) for f in files) == len(get_corpus())


@pytest.mark.parametrize("row, message", [
    ("x-1,commerce,另一家连锁超市,A chain,999999:1,0.7,,,,https://example.org\n", "unknown adcode 999999"),
    ("x-1,commerce,另一家连锁超市,A chain,420100:1,0.7,,,,\n", "every clue needs a source"),
    ("x-1,gossip,另一家连锁超市,A chain,420100:1,0.7,,,,https://example.org\n", "kind"),
    ("x-1,commerce,另一家连锁超市,A chain,,0.7,,,,https://example.org\n", "needs regions"),
    ("x-1,commerce,另一家连锁超市,A chain,420100:1,0,,,,https://example.org\n", "needs strength"),
    ("x-1,commerce,另一家连锁超市,A chain,420100:1,0.7,maybe,,,https://example.org\n", "exclusive"),
    ("x-1,commerce,另一家连锁超市,A chain,420100:1,0.7,,420100,,https://example.org\n",
     "both supported and excluded"),
    ("x-1,commerce,另一家连锁超市,A chain,420100:1,0.7,,,ab,https://example.org\n", "too short"),
    ("X 1,commerce,另一家连锁超市,A chain,420100:1,0.7,,,,https://example.org\n", "id"),
    ("x-1,commerce,另一家连锁超市,A chain,420100:1.5,0.7,,,,https://example.org\n", "weight"),
])
def test_bad_rows_are_rejected_with_file_and_line(tmp_path, row, message):
    path = tmp_path / "mine.csv"
    path.write_text(HEADER + GOOD_ROW + row, encoding="utf-8")
    with pytest.raises(CorpusError, match=message) as info:
        load_corpus([path])
    assert f"{path}:3" in str(info.value)


def test_cross_file_duplicates_are_rejected(tmp_path):
    dup_id = tmp_path / "a.csv"
    dup_id.write_text(HEADER + GOOD_ROW.replace("my-chain", "script-uyghur"), encoding="utf-8")
    with pytest.raises(CorpusError, match="duplicate id 'script-uyghur'"):
        load_corpus([dup_id])
    dup_pattern = tmp_path / "b.csv"
    dup_pattern.write_text(HEADER + GOOD_ROW.replace(",某某连锁,", ",汉口银行,"), encoding="utf-8")
    with pytest.raises(CorpusError, match="already used by bank-hankou"):
        load_corpus([dup_pattern])
    dup_text = tmp_path / "c.csv"
    dup_text.write_text(HEADER + GOOD_ROW.replace("某某连锁超市", "汉口银行网点"), encoding="utf-8")
    with pytest.raises(CorpusError, match="the same clue text"):
        load_corpus([dup_text])


def test_user_files_in_csv_and_yaml_are_merged(tmp_path, monkeypatch):
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text(HEADER + GOOD_ROW, encoding="utf-8")
    yaml_file = tmp_path / "mine.yaml"
    yaml_file.write_text(
        "clues:\n"
        "  - id: my-bollard\n    kind: bollard_guardrail\n"
        "    clue_zh: 红白相间的圆柱形防撞柱\n    clue_en: Red-and-white cylindrical bollards\n"
        "    regions: ['330100:1', '330200:0.5']\n    strength: 0.4\n"
        "    source: my own TuXun notes, 2026\n", encoding="utf-8")
    monkeypatch.setenv(USER_FILES_ENV, f"{csv_file}:{yaml_file}")
    merged = get_corpus()
    assert len(merged) == len(corpus_for(())) + 2
    assert merged.by_id["my-bollard"].regions[1].weight == 0.5
    assert merged.by_id["my-chain"].origin.startswith(str(csv_file))
    _, clues = sign_clues("某某连锁 光谷店", merged, get_gazetteer())
    assert [c.knowledge_id for c in clues] == ["my-chain"]


def test_unreadable_or_unknown_user_files(tmp_path):
    with pytest.raises(CorpusError, match="cannot read"):
        load_corpus([tmp_path / "missing.csv"])
    other = tmp_path / "notes.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"\.csv, \.yaml or \.yml"):
        load_corpus([other])
    broken = tmp_path / "broken.yaml"
    broken.write_text("clues: [unclosed", encoding="utf-8")
    with pytest.raises(CorpusError, match="not valid YAML"):
        load_corpus([broken])


def test_a_regional_bank_whose_province_outweighs_its_home_is_rejected(tmp_path):
    """红塔银行 at 530400:1;530000:0.7 answered 昆明: the wider region is a background (≤ 0.1)."""
    path = tmp_path / "banks.csv"
    row = "bank-mine,commerce,某某城市商业银行网点,Some city bank,530400:1;530000:0.7,0.8,,,某某城商行,https://example.org\n"
    path.write_text(HEADER + row, encoding="utf-8")
    with pytest.raises(CorpusError, match="background around its home"):
        load_corpus([path])
    path.write_text(HEADER + row.replace("530000:0.7", "530000:0.1"), encoding="utf-8")
    assert "bank-mine" in load_corpus([path]).by_id


def test_a_regional_bank_sign_alone_answers_its_home_city_not_the_capital(corpus):
    from sinoloc.tools.evidence import Evidence
    from sinoloc.tools.fusion import fuse

    for bank_id, home in [("bank-hongta", "530400"), ("bank-tianfu", "511300"), ("bank-huarun", "440400")]:
        entry = corpus.by_id[bank_id]
        belief = fuse([Evidence(id="E1", kind="knowledge", text=entry.patterns[0], source="test",
                                regions=[{"level": r.level.value, "adcode": r.adcode,
                                          "weight": w, "name": r.name}
                                         for r, w in corpus.regions(entry)],
                                weight=entry.strength, confidence=0.8)], corpus.index)
        city = max(belief.marginal("city").items(), key=lambda kv: kv[1])[0]
        assert city == home, bank_id

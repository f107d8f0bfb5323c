"""Retrieval over the clue corpus: 24 questions written here (Chinese and English, as a player or
a model would ask them) each find their entry in the top 5; region filters, observation matching
and the sign-text clues that OCR feeds in."""

import pytest

from sinoloc.tools.clues import extract_text_clues
from sinoloc.tools.knowledge.retrieval import get_knowledge_index

QUERIES = [
    ("which provinces use yellow-black striped bollards?", "bollard-yellow-black"),
    ("where is red soil with karst hills?", "terrain-red-soil"),
    ("where is red soil with karst hills?", "terrain-karst-towers"),
    ("维吾尔文招牌", "script-uyghur"),
    ("Tibetan script on shop signs", "script-tibetan"),
    ("vertical Mongolian writing next to Chinese", "script-mongolian"),
    ("Korean Hangul on shop signs", "script-hangul"),
    ("snow on the ground", "climate-snow-cover"),
    ("cave dwellings cut into loess cliffs", "arch-yaodong"),
    ("圆形土楼", "arch-tulou"),
    ("马头墙 白墙黛瓦", "arch-huizhou"),
    ("cars drive on the left", "left-hand-traffic"),
    ("电线杆上的南方电网标识", "power-csg"),
    ("coconut palms lining the street", "veg-coconut-palm"),
    ("yaks grazing by the road", "yaks"),
    ("wave-pattern Portuguese pavement", "calcada-portuguesa"),
    ("straw checkerboard sand barrier", "sand-barrier-checkerboard"),
    ("骑楼街", "arch-qilou"),
    ("licence plate 鄂", "plate-hubei"),
    ("汉口银行", "bank-hankou"),
    ("prayer flags on the pass", "prayer-flags"),
    ("早点铺写着过早", "dia-guozao"),
    ("黄土高原 沟壑", "terrain-loess"),
    ("noon sun in the north, shadows point south", "climate-sun-north"),
]


@pytest.fixture(scope="module")
def index():
    return get_knowledge_index()


@pytest.mark.parametrize("query, expected", QUERIES)
def test_expected_entry_in_top_five(index, query, expected):
    ids = [hit.entry.id for hit in index.search(query, k=5)]
    assert expected in ids, ids


def test_at_least_twenty_distinct_questions(index):
    """The index answers twenty-odd different questions, in Chinese and in English, and tells
    them apart: their best hits are not the same few entries."""
    answered = {q for q, expected in QUERIES
                if expected in [hit.entry.id for hit in index.search(q, k=5)]}
    assert len(answered) >= 20
    assert any(not q.isascii() for q in answered) and any(q.isascii() for q in answered)
    assert len({index.search(q, k=1)[0].entry.id for q in answered}) >= 20


def test_region_filter_keeps_entries_pointing_into_the_region(index, regions):
    hubei = regions.lookup("湖北省")[0]
    hits = index.search("银行 bank 网点 branch", region="湖北", k=10)
    assert hits and all(any(regions.is_within(r, hubei) or regions.is_within(hubei, r)
                            for r, _ in index.corpus.regions(h.entry)) for h in hits)
    assert "bank-hankou" in [h.entry.id for h in hits]
    assert [h.entry.id for h in index.search("bank", region="420000", k=10)] == \
        [h.entry.id for h in index.search("bank", region="湖北省", k=10)]
    with pytest.raises(ValueError, match="no region"):
        index.search("bank", region="亚特兰蒂斯")


def test_nothing_in_common_returns_nothing(index):
    assert index.search("zzzz qqqq") == []
    assert index.search("   ") == []


@pytest.mark.parametrize("observation, expected", [
    ("snow on the ground", "climate-snow-cover"),
    ("地面积雪", "climate-snow-cover"),
    ("palm trees", "veg-windmill-palm"),  # hardy palms, not the tropical coconut
    ("coconut palms", "veg-coconut-palm"),
    ("left-hand traffic", "left-hand-traffic"),
    ("sun in the north at noon", "climate-sun-north"),
])
def test_an_observation_matches_the_entry_it_describes(index, observation, expected):
    assert index.best_match(observation).entry.id == expected


def test_a_vague_observation_matches_nothing(index):
    assert index.best_match("people wearing coats") is None


def test_sign_texts_become_knowledge_clues_without_double_counting_place_names():
    [bank] = extract_text_clues("汉口银行 光谷支行")
    assert (bank.kind.value, bank.knowledge_id) == ("knowledge", "bank-hankou")
    assert {r.adcode for r in bank.regions} >= {"420100"}
    # a landmark whose name contains another place's name reads as the landmark
    [tomb] = extract_text_clues("中山陵")
    assert tomb.knowledge_id == "lm-sun-yat-sen-mausoleum" and tomb.regions[0].adcode == "320100"
    # a pattern inside a longer admin name is the name: one address clue, no knowledge clue
    kinds = [c.kind.value for c in extract_text_clues("巴彦淖尔市临河区")]
    assert kinds == ["ocr_address"]
    # the longer sign text wins over a shorter one inside it
    assert [c.knowledge_id for c in extract_text_clues("红砖厝")] == ["arch-minnan-red-brick"]
    assert [c.knowledge_id for c in extract_text_clues("望右 LOOK RIGHT")] == \
        ["road-marking-look-right"]


def test_benchmark_runs_and_reports_medians(capsys):
    from sinoloc.benchmarks.knowledge import main

    result = main(["--runs", "1"])
    assert result["entries"] >= 300 and result["queries"] >= 60
    assert result["search_median_ms"] > 0 and result["search_vs_scan_ratio"] > 0
    assert result["own_text_top1"] >= 0.9  # an entry's own English text finds it
    assert '"search_median_ms"' in capsys.readouterr().out

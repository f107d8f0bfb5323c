"""Offline retrieval over the clue corpus: BM25 (bm25s) over jieba-segmented Chinese and plain
English words.

Each entry is indexed with its Chinese and English text, its sign patterns, its kind and the
names (Chinese, short, pinyin-free English) of its regions, so "Tibetan script", "藏文招牌" and
"西藏 文字" all reach the same entry. Chinese text contributes jieba words *and* single
characters: the words rank precise matches first, the characters keep a paraphrase (地上有积雪 vs
地面积雪) from scoring zero.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sinoloc.tools.knowledge import get_knowledge
from sinoloc.tools.knowledge.corpus import ClueEntry, Corpus, corpus_for, user_file_key
from sinoloc.tools.regions import Region

_CJK = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z0-9]+")
_EN_STOP = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has",
    "have", "how", "i", "in", "is", "it", "its", "of", "on", "or", "so", "than", "that", "the",
    "their", "there", "these", "this", "to", "was", "were", "what", "where", "which", "who", "why",
    "with", "you", "your", "near", "seen", "see", "image", "photo", "picture", "show", "shows",
))
_ZH_STOP = frozenset((
    "的", "了", "在", "是", "有", "和", "与", "及", "或", "等", "个", "一", "这", "哪", "些", "吗", "呢",
    "什么", "哪里", "哪些", "地方", "图片", "照片", "看到", "可以",
))
_KIND_WORDS = {
    "script": "文字 script language 语言", "plate": "车牌 licence license plate",
    "road_sign": "路牌 标志 标线 road sign marking", "bollard_guardrail": "护栏 防撞柱 bollard guardrail",
    "street_furniture": "街道设施 street furniture", "utility_pole": "电线杆 电杆 utility pole power",
    "architecture": "建筑 房屋 屋顶 architecture house roof", "vegetation": "植被 作物 vegetation crop tree",
    "terrain": "地形 土壤 terrain soil landscape", "climate": "气候 季节 climate season weather",
    "landmark": "地标 景点 landmark", "transport": "交通 车辆 transport vehicle",
    "commerce": "商店 连锁 品牌 shop chain brand", "dialect": "方言 地名 dialect toponym",
}


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


class Tokenizer:
    """jieba words + CJK characters + lower-cased, lightly stemmed English words."""

    def __init__(self, vocabulary: Iterable[str] = frozenset()):
        self._jieba = _jieba()
        for word in vocabulary:  # sign texts and region names stay whole
            if _CJK.fullmatch(word) and len(word) >= 2:
                self._jieba.add_word(word, freq=2000)

    def words(self, text: str) -> list[str]:
        """Content words only (no single characters): what a query must share to match."""
        text = text.lower()
        out = []
        for run in _CJK.findall(text):
            out += [w for w in self._jieba.cut_for_search(run) if w not in _ZH_STOP]
        out += [_stem(w) for w in _WORD.findall(text) if w not in _EN_STOP]
        return out

    def __call__(self, text: str) -> list[str]:
        chars = [c for run in _CJK.findall(text) for c in run if c not in _ZH_STOP]
        return self.words(text) + chars


@dataclass(frozen=True)
class Hit:
    entry: ClueEntry
    score: float
    coverage: float  # share of the query's content words found in the entry


class KnowledgeIndex:
    def __init__(self, corpus: Corpus):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG
        self.corpus = corpus
        index = corpus.index
        names: set[str] = set()
        names_en = get_knowledge().province_english_names  # "Inner Mongolia", "Tibet Xizang"
        docs_text = []
        for entry in corpus.entries:
            regions = [r for r, _ in corpus.regions(entry)]
            region_words = []
            for region in regions:  # short names: 新疆, 延边 (jieba splits the full ones)
                path = [index.province_of(region), index.city_of(region), region]
                region_words += list(dict.fromkeys(r.short for r in path if r is not None))
            names.update(region_words)
            names.update(entry.patterns)
            english = [names_en.get(index.province_of(r).adcode, "") for r in regions]
            docs_text.append(" ".join([
                entry.clue_zh, entry.clue_en, " ".join(entry.patterns),
                _KIND_WORDS[entry.kind.value], " ".join(region_words), " ".join(english)]))
        self.tokenize = Tokenizer(names)
        self._docs = [self.tokenize(text) for text in docs_text]
        self._doc_sets = [set(doc) for doc in self._docs]
        self._doc_words = [set(self.tokenize.words(text)) for text in docs_text]
        # weak length normalisation: a clue seen in many provinces lists many names, which
        # says nothing about how well its text matches
        self._bm25 = bm25s.BM25(k1=1.2, b=0.3)
        self._bm25.index(self._docs, show_progress=False)

    def _scope(self, region: str | None) -> list[Region] | None:
        if not region:
            return None
        index = self.corpus.index
        found = ([index.get(region)] if region.isdigit() else index.lookup(region))
        found = [r for r in found if r is not None]
        if not found:
            raise ValueError(f"no region called {region!r}")
        return found

    def _in_scope(self, entry: ClueEntry, scope: list[Region]) -> bool:
        index = self.corpus.index
        return any(index.is_within(r, s) or index.is_within(s, r)
                   for r, _ in self.corpus.regions(entry) for s in scope)

    def search(self, query: str, region: str | None = None, k: int = 5) -> list[Hit]:
        """The ``k`` best entries for ``query``, optionally only those pointing into (or
        containing) ``region`` (a name or an adcode). An entry must share a whole word with
        the query: single characters only rank entries that do (银行 must not find 成行 in a
        tea-terrace clue); entries that share nothing are never returned."""
        tokens = self.tokenize(query)
        if not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=float)
        scope = self._scope(region)
        words = set(self.tokenize.words(query))
        chars = set(tokens) - words
        hits: list[Hit] = []
        for position in np.argsort(-scores, kind="stable"):
            if scores[position] <= 0 or len(hits) >= k:
                break
            entry = self.corpus.entries[position]
            if words and not words & self._doc_words[position]:
                continue
            if scope is not None and not self._in_scope(entry, scope):
                continue
            hits.append(Hit(entry, float(scores[position]),
                            round(self._coverage(words, chars, self._doc_sets[position]), 3)))
        return hits

    @staticmethod
    def _coverage(words: set[str], chars: set[str], doc: set[str]) -> float:
        """Share of the query's words in the entry; for Chinese, averaged with the share of its
        characters (jieba may cut a paraphrase differently: 地上有积雪 vs 地面积雪)."""
        parts = [len(part & doc) / len(part) for part in (words, chars) if part]
        return sum(parts) / len(parts) if parts else 0.0

    def best_match(self, text: str) -> Hit | None:
        """The entry that ``text`` (an observation) describes, or None (see :func:`pick_best`)."""
        return pick_best(self.search(text, k=5))


MIN_COVERAGE = 0.6


def pick_best(hits: list[Hit], min_coverage: float = MIN_COVERAGE) -> Hit | None:
    """The hit an observation describes: among the hits scoring within half of the best, the
    one covering most of the text (then the higher score); None below ``min_coverage``."""
    if not hits:
        return None
    close = [h for h in hits if h.score >= 0.5 * hits[0].score]
    best = max(close, key=lambda h: (h.coverage, h.score))
    return best if best.coverage >= min_coverage else None


@lru_cache(maxsize=4)
def _index_for(user_files: tuple[str, ...]) -> KnowledgeIndex:
    return KnowledgeIndex(corpus_for(user_files))


def get_knowledge_index() -> KnowledgeIndex:
    """The index over :func:`get_corpus` (rebuilt when the user's clue files change)."""
    return _index_for(user_file_key())


__all__ = ["Hit", "KnowledgeIndex", "Tokenizer", "get_knowledge_index", "pick_best"]

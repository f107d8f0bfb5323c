"""Sign texts that identify a clue in the knowledge corpus (汉口银行, 南方电网, 望右 LOOK RIGHT).

Longer texts win: 红砖厝 is the Minnan red-brick house, not also the toponym character 厝. A
pattern that contains an admin name reads as the pattern (中山陵 is in 南京, not 中山市; 阿里山 is
in 台湾, not 阿里地区), and its text is masked so the address clue does not read the name again.
A pattern inside a longer admin name is the name (淖尔 in 巴彦淖尔市).
"""

from __future__ import annotations

from functools import lru_cache

from sinoloc.tools.clues.gazetteer import Gazetteer
from sinoloc.tools.clues.schema import Clue, ClueKind, RegionSupport
from sinoloc.tools.knowledge.corpus import ClueEntry, Corpus

SIGN_CONFIDENCE = 0.8  # a literal match of a curated sign text; the OCR score caps it further
MASK = "□"


@lru_cache(maxsize=4)
def _patterns(corpus: Corpus) -> list[tuple[str, ClueEntry]]:
    pairs = [(p, e) for e in corpus.entries if e.locates for p in e.patterns]
    return sorted(pairs, key=lambda pe: -len(pe[0]))


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _occurrences(pattern: str, text: str, folded: str):
    """Start and end of every occurrence; Latin patterns ignore case. ``folded`` is ``text``
    with only A–Z lowered, so its positions are the text's (str.casefold can change length);
    ``text`` has the traditional forms of province abbreviations folded (粵通卡 is 粤通卡)."""
    haystack, needle = (folded, pattern.translate(_ASCII_LOWER)) if pattern.isascii() \
        else (text, pattern)
    start = haystack.find(needle)
    while start >= 0:
        yield start, start + len(needle)
        start = haystack.find(needle, start + 1)


def region_support(entry: ClueEntry, corpus: Corpus) -> list[RegionSupport]:
    """The entry's regions as clue and evidence support (sign clues and model observations)."""
    return [RegionSupport(level=region.level.value, adcode=region.adcode,
                          name=corpus.index.label(region), weight=weight)
            for region, weight in corpus.regions(entry)]


def _clue(entry: ClueEntry, pattern: str, corpus: Corpus, span_id: str | None) -> Clue:
    return Clue(kind=ClueKind.KNOWLEDGE, text=pattern, span_id=span_id,
                confidence=SIGN_CONFIDENCE, strength=entry.strength,
                regions=region_support(entry, corpus),
                detail=f"{pattern!r} on a sign: {entry.clue_en} [{entry.id}]",
                source=entry.source, knowledge_id=entry.id)


def sign_clues(text: str, corpus: Corpus, gazetteer: Gazetteer,
               span_id: str | None = None,
               fold: dict[str, str] | None = None) -> tuple[str, list[Clue]]:
    """One clue per corpus entry whose sign text occurs in ``text``, and ``text`` with the
    matched characters masked (for the extractors that run after this one). ``fold`` maps
    single characters the OCR engine reads in a traditional form to the form the patterns use
    (the province abbreviations of plate_ocr_confusions.csv: 粵 → 粤), position for position."""
    mentions = [(m.start, m.end) for m in gazetteer.mentions(text)]
    clues: dict[str, Clue] = {}
    folded = text.translate(_ASCII_LOWER)
    table = str.maketrans(fold or {})
    for pattern, entry in _patterns(corpus):
        for start, end in list(_occurrences(pattern, text.translate(table), folded)):
            if MASK in text[start:end]:
                continue  # part of a longer sign text already matched
            if any(s <= start and end <= e and e - s > end - start for s, e in mentions):
                continue  # inside a longer admin name
            clues.setdefault(entry.id, _clue(entry, pattern, corpus, span_id))
            text = text[:start] + MASK * (end - start) + text[end:]
            folded = folded[:start] + MASK * (end - start) + folded[end:]
    return text, list(clues.values())

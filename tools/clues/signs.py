"""Sign texts that identify a clue in the knowledge corpus (汉口银行, 南方电网, 望右 LOOK RIGHT).

Admin names are masked first: a pattern inside 乌兰浩特市 is the city's name, which the address
clue already counts, not a second piece of evidence.
"""

from __future__ import annotations

from ..knowledge.corpus import ClueEntry, Corpus
from .gazetteer import Gazetteer
from .schema import Clue, ClueKind, RegionSupport

SIGN_CONFIDENCE = 0.8  # a literal match of a curated sign text; the OCR score caps it further


def mask_admin_names(text: str, gazetteer: Gazetteer) -> str:
    for mention in gazetteer.mentions(text):
        text = text[:mention.start] + "□" * (mention.end - mention.start) + text[mention.end:]
    return text


def _matches(pattern: str, text: str, folded: str) -> bool:
    return pattern.casefold() in folded if pattern.isascii() else pattern in text


def _clue(entry: ClueEntry, pattern: str, corpus: Corpus, span_id: str | None) -> Clue:
    regions = [RegionSupport(level=region.level.value, adcode=region.adcode,
                             name=corpus.index.label(region), weight=weight)
               for region, weight in corpus.regions(entry)]
    return Clue(kind=ClueKind.KNOWLEDGE, text=pattern, span_id=span_id,
                confidence=SIGN_CONFIDENCE, strength=entry.strength, regions=regions,
                detail=f"{pattern!r} on a sign: {entry.clue_en} [{entry.id}]",
                source=entry.source, knowledge_id=entry.id)


def sign_clues(text: str, corpus: Corpus, gazetteer: Gazetteer,
               span_id: str | None = None) -> list[Clue]:
    """One clue per corpus entry whose sign pattern occurs in ``text``."""
    masked = mask_admin_names(text, gazetteer)
    folded = masked.casefold()
    clues = []
    for entry in corpus.entries:
        if not entry.locates:
            continue
        hit = next((p for p in entry.patterns if _matches(p, masked, folded)), None)
        if hit is not None:
            clues.append(_clue(entry, hit, corpus, span_id))
    return clues

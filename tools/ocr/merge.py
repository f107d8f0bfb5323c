"""Merge OCR lines read in overlapping views into one list without repeats."""

from __future__ import annotations

import re
import unicodedata

from sinoloc.tools.ocr.base import OcrSpan

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def text_key(text: str) -> str:
    """NFKC, no spaces or punctuation, upper case: 杭州市 西湖区 and 杭州市西湖区 compare equal."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text)).upper()


def merge_spans(spans: list[OcrSpan]) -> list[OcrSpan]:
    """Keep one span per text: the best-scored reading wins; a reading contained in a longer one
    (a sign cut by a view's edge) is dropped in favour of the longer one. Other views where the
    text was seen are listed in ``also_in``. Ids are re-numbered T1, T2, … in reading order."""
    ordered = sorted(spans, key=lambda s: (-len(text_key(s.text)), -s.score))
    kept: list[OcrSpan] = []
    for span in ordered:
        key = text_key(span.text)
        if not key:
            continue
        duplicate = next((k for k in kept if key in text_key(k.text)), None)
        if duplicate is None:
            kept.append(span.model_copy(update={"also_in": list(span.also_in)}))
        elif span.view_id != duplicate.view_id and span.view_id not in duplicate.also_in:
            duplicate.also_in.append(span.view_id)
    kept.sort(key=lambda s: (s.heading if s.heading is not None else -1,
                             min((y for _, y in s.box), default=0),
                             min((x for x, _ in s.box), default=0)))
    return [s.model_copy(update={"span_id": f"T{i + 1}"}) for i, s in enumerate(kept)]

"""Position-preserving folding of OCR text for the code-like clues (plates, phone numbers).

OCR emits full-width forms (０３５１, Ａ, －, ．, the ideographic space) where the sign has ASCII.
NFKC folds them, but NFKC on a whole string can change its length (㈱ → (株)), and the extractors
report the matched text as read (the caller masks it in the original line). So each character is
folded on its own and kept as it was when its fold is not a single character: position ``i`` of the
folded text is position ``i`` of the original.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 else char


def fold_width(text: str) -> str:
    """Full-width letters, digits and punctuation → ASCII, one character for one character."""
    return "".join(_fold_char(c) for c in text)


def upper_ascii(text: str) -> str:
    """Upper-case a–z only (str.upper can change the length of non-ASCII text: ß → SS)."""
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in text)

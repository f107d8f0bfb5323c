"""Text that must not be read as a location: provider watermarks and place-named dishes."""

from __future__ import annotations

from sinoloc.tools.clues.schema import Clue, ClueKind
from sinoloc.tools.knowledge import Knowledge


def watermark_clue(text: str, knowledge: Knowledge, span_id: str | None = None) -> Clue | None:
    for row in knowledge.watermarks:
        if row.pattern in text and (row.pattern != "©" or len(text) < 40):
            return Clue(kind=ClueKind.WATERMARK, text=text, span_id=span_id, confidence=0.95,
                        strength=0.0, detail=f"{row.provider} watermark: not a location clue",
                        source=row.source)
    return None


def mask_misleading(text: str, knowledge: Knowledge,
                    span_id: str | None = None) -> tuple[str, list[Clue]]:
    """Blank out phrases like 兰州拉面 / 沙县小吃 (found in every province) before place-name
    matching, and say so."""
    clues = []
    for row in knowledge.misleading:
        if row.phrase in text:
            text = text.replace(row.phrase, "□" * len(row.phrase))
            clues.append(Clue(kind=ClueKind.MISLEADING, text=row.phrase, span_id=span_id,
                              confidence=0.9, strength=0.0,
                              detail=f"{row.phrase} names {row.names_place} but {row.reason}",
                              source=row.source))
    return text, clues

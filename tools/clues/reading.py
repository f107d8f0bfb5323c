"""How locate reads a piece of text, for surfaces that show knowledge to people (``sinoloc
knowledge search``): the phrases it ignores (a place-named dish, a provider watermark) and the
clues it takes, so a search hit that only matched an ignored phrase, or words of a name locate
reads as a whole (中山 of 中山大学, which is in 广州), can say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from sinoloc.tools.clues import extract_text_clues
from sinoloc.tools.clues.schema import Clue, ClueKind

IGNORED = (ClueKind.WATERMARK, ClueKind.MISLEADING)
WHOLE = (ClueKind.INSTITUTION,)  # names whose words point elsewhere than the name does


@dataclass(frozen=True)
class Reading:
    ignored: tuple[Clue, ...]  # what locate reads and deliberately does not use
    used: tuple[Clue, ...]  # the clues locate takes from the text
    rest: str  # the text without the ignored phrases and whole names ("" for a watermark)

    @property
    def why(self) -> str:
        """Why words of the text are not evidence by themselves, for a hit that matched them."""
        return "; ".join([c.detail for c in self.ignored]
                         + [c.detail for c in self.used if c.kind in WHOLE])

    def lines(self) -> list[str]:
        """One line per ignored phrase and per clue taken, for people."""
        out = [f"locate ignores {c.text!r}: {c.detail}" for c in self.ignored]
        for clue in self.used:
            where = " / ".join(r.name for r in clue.regions)
            out.append(f"locate reads {clue.text!r} as {clue.kind.value}: {where}")
        return out


def how_locate_reads(text: str) -> Reading:
    clues = extract_text_clues(text)
    ignored = tuple(c for c in clues if c.kind in IGNORED)
    used = tuple(c for c in clues if c.kind not in IGNORED and c.regions and c.strength > 0)
    rest = text
    for clue in ignored + tuple(c for c in used if c.kind in WHOLE):
        rest = "" if clue.kind is ClueKind.WATERMARK else rest.replace(clue.text, " ")
    return Reading(ignored, used, rest.strip())

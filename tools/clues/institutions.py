"""Universities and colleges named on a sign → the city of their campus (MoE list, cited).

A university's name names where it is, not the place in its name: 中山大学 is in 广州, not 中山市;
河北工业大学 is in 天津. The matched name is masked (like a knowledge-corpus sign text) so the
address clue does not read the place inside it again. A name whose campuses lie in several
cities (山东大学: 济南, 青岛, 威海) supports all of them, the main campus first; a campus's own
name (山东大学（威海）) its city alone. Short names (浙大) only where they are unambiguous, and
weaker: a short name inside a longer admin name (南开 of 南开区) is the admin name's. A place
right after the name names a campus or branch (北京大学深圳医院, 哈尔滨工业大学威海): one of its
campuses there narrows the clue to it; a branch where it has no campus is that place's, read by
the address clue, and the university adds nothing.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sinoloc.tools.clues.gazetteer import Gazetteer, Mention
from sinoloc.tools.clues.schema import Clue, ClueKind, RegionSupport
from sinoloc.tools.knowledge.kinds import Institution, Kinds

MASK = "□"
# (strength, confidence): a college's name on a sign is usually on or near its campus, but
# banners congratulating admitted students and branch offices name it far away
FULL = (0.8, 0.85)
SHORT = (0.6, 0.7)
# a short name followed by these is a street or a person (吉大路, 郑大爷), not the university
_NOT_AFTER = re.compile(r"^(路|街|大街|大道|道|巷|爷|妈|叔|婶|哥|姐|嫂)")
SOURCE = "MoE 全国普通高等学校名单 2025 + campus/short-name table (university_names.csv)"


def _patterns(kinds: Kinds) -> list[Institution]:
    return kinds.by_length


def _clue(found: Institution, gazetteer: Gazetteer, span_id: str | None) -> Clue:
    index = gazetteer.index
    strength, confidence = SHORT if found.short else FULL
    labels = [index.label(region) for region, _ in found.regions]
    where = labels[0] + (f" (also {'、'.join(labels[1:])})" if len(labels) > 1 else "")
    alias = "" if found.pattern == found.name else f" ({found.name})"
    return Clue(kind=ClueKind.INSTITUTION, text=found.pattern, span_id=span_id,
                confidence=confidence, strength=strength,
                regions=[RegionSupport(level=r.level.value, adcode=r.adcode, name=label, weight=w)
                         for (r, w), label in zip(found.regions, labels, strict=True)],
                detail=f"{found.pattern!r}{alias} on a sign: its campus is in {where}, "
                       "not at a place its name contains",
                source=f"{SOURCE}: {found.source}")


def _branch(found: Institution, end: int, text: str, mentions: list[Mention],
            gazetteer: Gazetteer) -> tuple[Institution | None, int]:
    """``found`` as the place named right after it reads it (the campuses there, or None for a
    branch where it has no campus; ``found`` itself when no place follows), and where the
    name ends: through a campus's place, which says no more than the clue."""
    start = end + 1 if text[end:end + 1] in ("（", "(") else end
    after = next((m for m in mentions if m.start == start and m.end > start), None)
    if after is None:
        return found, end
    index = gazetteer.index
    there = tuple((region, 1.0) for region, _ in found.regions
                  if any(index.is_within(c, region) or index.is_within(region, c)
                         for c in after.candidates))
    return (replace(found, regions=there), after.end) if there else (None, end)


def institution_clues(text: str, kinds: Kinds, gazetteer: Gazetteer,
                      span_id: str | None = None) -> tuple[str, list[Clue]]:
    """One clue per institution named in ``text``, and ``text`` with the names masked."""
    mentions = gazetteer.mentions(text)
    spans = [(m.start, m.end) for m in mentions]
    clues: dict[str, Clue] = {}
    for found in _patterns(kinds):
        start = text.find(found.pattern)
        while start >= 0:
            end = start + len(found.pattern)
            inside_admin = any(s <= start and end <= e and e - s > end - start for s, e in spans)
            if not inside_admin and not (found.short and _NOT_AFTER.match(text[end:])):
                campus, end = _branch(found, end, text, mentions, gazetteer)
                if campus is not None:
                    clues.setdefault(found.name, _clue(campus, gazetteer, span_id))
                text = text[:start] + MASK * (end - start) + text[end:]
            start = text.find(found.pattern, start + 1)
    return text, list(clues.values())

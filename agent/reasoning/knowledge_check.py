"""Verification against the knowledge base: is the claimed region consistent with what was seen?

Two sources of "seen": knowledge evidence (a sign text matched to a corpus entry, or an entry the
model looked up as ``seen_in_image``), and the answer's own ``observations`` (short phrases such
as "snow on the ground"), each matched to its best corpus entry. An entry that excludes the
claimed region (snow → not 海南) or occurs only elsewhere (left-hand traffic → 香港 / 澳门) is a
contradiction the answer must resolve or acknowledge, like any other strong evidence.
"""

from __future__ import annotations

from collections.abc import Callable

from sinoloc.agent.schemas import Answer
from sinoloc.tools.evidence import Evidence
from sinoloc.tools.knowledge.corpus import Corpus
from sinoloc.tools.knowledge.retrieval import Hit
from sinoloc.tools.regions import Region


def knowledge_conflicts(answer: Answer, claimed: Region, evidence: list[Evidence],
                        corpus: Corpus, backed: bool,
                        match: Callable[[str], Hit | None] | None = None) -> list[str]:
    """One message per observed clue that contradicts ``claimed``: knowledge evidence is looked
    up by entry id, each observation through ``match`` (retrieval; needed only when the answer
    has observations). A conflict listed in ``acknowledged_conflicts`` (by evidence id or entry
    id) passes only when ``backed``: the answer cites evidence of its own for the claim."""
    messages = []

    def check(entry_id: str, keys: tuple[str, ...], what: str) -> None:
        entry = corpus.by_id.get(entry_id)
        if entry is None:
            return
        reason = corpus.conflict(entry, claimed)
        if reason is None:
            return
        explained = any(k in answer.acknowledged_conflicts for k in keys)
        if explained and backed:
            return
        messages.append(
            f"{what} matches knowledge entry [{entry.id}] \"{entry.clue_en}\": {reason}, so it "
            f"contradicts {corpus.index.label(claimed)} (source: {entry.source})"
            + ("; it is acknowledged, but no cited evidence supports the claim"
               if explained else ""))

    for item in evidence:
        if item.knowledge_id:
            check(item.knowledge_id, (item.id, item.knowledge_id), f"{item.id} ({item.text})")
    if match is not None:
        for observation in answer.observations:
            hit = match(observation)
            if hit is not None:
                check(hit.entry.id, (hit.entry.id, observation),
                      f"the observation {observation!r}")
    return messages


__all__ = ["knowledge_conflicts"]

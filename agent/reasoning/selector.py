"""Which of several trajectories' answers to commit (``samples`` > 1): the answer the pooled
evidence — the belief over everything any trajectory found — supports best, the number of
trajectories that gave it breaking a tie; and how far the trajectories agreed.

Only a trajectory's own verified answer votes: one that ended in the fused fallback (its model
failed, or its answer never passed) adds its evidence to the pool, not a vote. Pure functions
over answers, the region data and a belief."""

from __future__ import annotations

from dataclasses import dataclass

from sinoloc.agent.reasoning.verify import resolve_answer
from sinoloc.agent.schemas import Answer
from sinoloc.tools.fusion import Belief
from sinoloc.tools.regions import Region, RegionIndex

LEVELS = ("province", "city", "district")
SUPPORT_DIGITS = 6  # supports equal to this many digits are a tie (votes decide)


@dataclass(frozen=True)
class Ballot:
    """One trajectory's final answer, resolved."""

    index: int
    answer: Answer
    regions: tuple[Region | None, Region | None, Region | None]
    voting: bool

    @property
    def claim(self) -> tuple[str | None, ...]:
        return tuple(r.adcode if r is not None else None for r in self.regions)

    @property
    def depth(self) -> int:
        """The finest level claimed (0 province … 2 district)."""
        return max((i for i, r in enumerate(self.regions) if r is not None), default=0)


def ballot(index: int, answer: Answer, voting: bool, index_data: RegionIndex) -> Ballot:
    (province, city, district), _ = resolve_answer(answer, index_data)
    return Ballot(index, answer, (province, city, district), voting)


def support(belief: Belief, ballot: Ballot) -> float:
    """The pooled belief's mass on the claim, summed over the levels it names."""
    return sum(belief.mass(r) for r in ballot.regions if r is not None)


@dataclass
class Selection:
    chosen: Ballot | None  # None: no trajectory's own answer passed
    votes: int
    agreement: float  # share of all trajectories agreeing at the chosen answer's finest level
    by_level: dict[str, float]
    distinct: int
    support: dict[str, float]  # label → pooled support, per distinct answer
    disagreed: bool  # no majority for the chosen answer among the trajectories


def agreement_with(chosen: Ballot, ballots: list[Ballot]) -> dict[str, float]:
    """Per level, the share of all trajectories whose verified answer names the chosen
    region there."""
    total = max(len(ballots), 1)
    return {name: round(sum(b.voting and b.regions[i] is not None
                            and b.claim[i] == chosen.claim[i] for b in ballots) / total, 4)
            for i, name in enumerate(LEVELS) if chosen.regions[i] is not None}


def label(ballot: Ballot, index: RegionIndex) -> str:
    deepest = next((r for r in reversed(ballot.regions) if r is not None), None)
    return index.label(deepest) if deepest is not None else ballot.answer.province


def select(ballots: list[Ballot], belief: Belief, index: RegionIndex,
           prefer: int | None = None) -> Selection:
    """The answer best supported by the pooled ``belief`` (votes, then trajectory order, break
    ties); ``prefer`` (a verifier's pick among the voting ballots) overrides the support."""
    voting = [b for b in ballots if b.voting]
    groups: dict[tuple, list[Ballot]] = {}
    for b in voting:
        groups.setdefault(b.claim, []).append(b)
    scores = {claim: support(belief, members[0]) for claim, members in groups.items()}
    supports = {label(members[0], index): round(scores[claim], 4)
                for claim, members in groups.items()}
    if not groups:
        return Selection(None, 0, 0.0, {}, 0, supports, disagreed=False)
    if prefer is not None and any(b.index == prefer for b in voting):
        claim = next(b.claim for b in voting if b.index == prefer)
    else:
        claim = max(groups, key=lambda c: (round(scores[c], SUPPORT_DIGITS), len(groups[c]),
                                           -groups[c][0].index))
    chosen = groups[claim][0]
    by_level = agreement_with(chosen, ballots)
    finest = LEVELS[chosen.depth]
    votes = len(groups[claim])
    return Selection(chosen, votes, by_level.get(finest, 0.0), by_level, len(groups), supports,
                     disagreed=votes * 2 <= len(ballots) and len(groups) > 1)

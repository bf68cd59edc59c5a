"""From ballots to a ranked outcome under one rule: scores, tiers of equal score, and an explicit, seeded tie-break.

Ties stay visible (every candidate in the top tier is a winner of the rule); when one winner is needed, a draw
seeded by the run's seed picks it and :attr:`Result.tie_break` records how.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from agora.aggregation import rules as _rules  # noqa: F401  (registers the built-in rules)
from agora.aggregation.ballot import Ballot
from agora.aggregation.registry import get_rule


@dataclass
class Result:
    """The ranked outcome of one rule."""

    rule: str
    scores: dict[str, float]
    ranking: list[list[str]]
    winner: str | None
    tied_winners: list[str] = field(default_factory=list)
    tie_break: str | None = None

    @property
    def winners(self) -> list[str]:
        return self.ranking[0] if self.ranking else []

    @property
    def margin(self) -> float | None:
        """The winners' score minus the runner-up's, in the rule's own units (0 for a tie for first; None with
        fewer than two candidates ranked)."""
        if not self.ranking or (len(self.ranking) == 1 and len(self.ranking[0]) < 2):
            return None
        if len(self.ranking[0]) > 1:
            return 0.0
        return self.scores[self.ranking[0][0]] - self.scores[self.ranking[1][0]]


def rank_scores(scores: dict[str, float], tolerance: float = 1e-9) -> list[list[str]]:
    """Group candidates into tiers of equal score, best first (names sorted within a tier)."""
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    tiers: list[list[str]] = []
    last: float | None = None
    for cand, score in ordered:
        if last is not None and abs(score - last) <= tolerance:
            tiers[-1].append(cand)
        else:
            tiers.append([cand])
        last = score
    return tiers


def aggregate(
    ballots: Sequence[Ballot],
    candidates: Sequence[str],
    rule: str = "borda",
    *,
    weighted: bool = False,
    seed: int = 0,
) -> Result:
    """Apply ``rule`` and break a tie for first place with a seeded draw (recorded in ``tie_break``)."""
    info = get_rule(rule)
    counted = [b if weighted else replace(b, weight=1.0) for b in ballots if b.ranking]
    scores = {c: v + 0.0 for c, v in info.function(counted, list(candidates)).items()}  # no -0.0 in reports
    ranking = rank_scores(scores)
    winner = None
    tied: list[str] = []
    tie_break = None
    if ranking and counted:
        top = ranking[0]
        if len(top) == 1:
            winner = top[0]
        else:
            tied = list(top)
            winner = random.Random(f"{seed}:{rule}:tie").choice(sorted(top))
            tie_break = f"{len(top)}-way tie for first under {rule}; seeded draw (seed {seed}) chose {winner}"
    return Result(rule, scores, ranking, winner, tied, tie_break)

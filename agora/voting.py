"""Aggregation rules: pure functions from ballots to scores, in a registry.

Every rule has one signature::

    rule(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]

and returns a score per candidate (higher is better). :func:`aggregate` turns scores into a ranked outcome with
ties kept visible and tie-breaking explicit and seeded. Add a rule with ``@register_rule("name", "one line")``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .errors import ConfigError


@dataclass(frozen=True)
class Ballot:
    """A voter's ranking of candidate ids, best first; each inner tuple is a tie. Empty means abstention.

    Scored ballots also carry ``utilities`` (candidate -> utility, higher is better) and approval ballots
    ``approved``; :meth:`of` derives the ranking from them when none is given.
    """

    voter: str
    ranking: tuple[tuple[str, ...], ...]
    weight: float = 1.0
    utilities: Mapping[str, float] | None = field(default=None, hash=False)
    approved: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls,
        voter: str,
        ranking: Sequence[Sequence[str] | str] = (),
        weight: float = 1.0,
        *,
        utilities: Mapping[str, float] | None = None,
        approved: Sequence[str] | None = None,
    ) -> Ballot:
        tiers = tuple((t,) if isinstance(t, str) else tuple(t) for t in ranking)
        tiers = tuple(t for t in tiers if t)
        if not tiers and utilities:
            levels = sorted(set(utilities.values()), reverse=True)
            tiers = tuple(tuple(sorted(c for c, u in utilities.items() if u == v)) for v in levels)
        elif not tiers and approved:
            tiers = (tuple(approved),)
        return cls(
            voter,
            tiers,
            weight,
            dict(utilities) if utilities is not None else None,
            tuple(approved) if approved is not None else None,
        )

    @property
    def top(self) -> tuple[str, ...]:
        return self.ranking[0] if self.ranking else ()


Rule = Callable[[Sequence[Ballot], Sequence[str]], dict[str, float]]


@dataclass(frozen=True)
class RuleInfo:
    name: str
    summary: str
    function: Rule


RULES: dict[str, RuleInfo] = {}


def register_rule(name: str, summary: str) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        RULES[name] = RuleInfo(name, summary, fn)
        return fn

    return deco


def get_rule(name: str, *, field: str = "aggregation.rule", source: str | None = None) -> RuleInfo:
    try:
        return RULES[name]
    except KeyError:
        raise ConfigError(
            f"unknown aggregation rule {name!r} (available: {', '.join(sorted(RULES))})",
            source=source,
            field=field,
        ) from None


def complete_tiers(ballot: Ballot, candidates: Sequence[str]) -> list[tuple[str, ...]]:
    """The ballot's tiers restricted to ``candidates``, with unranked candidates tied last."""
    tiers = [tuple(c for c in tier if c in candidates) for tier in ballot.ranking]
    tiers = [t for t in tiers if t]
    ranked = {c for t in tiers for c in t}
    rest = tuple(c for c in candidates if c not in ranked)
    if rest:
        tiers.append(rest)
    return tiers


@register_rule(
    "plurality", "each ballot's first choice gets the voter's weight (split evenly among tied firsts)"
)
def plurality(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    scores = {c: 0.0 for c in candidates}
    for b in ballots:
        top = [c for c in b.top if c in scores]
        for c in top:
            scores[c] += b.weight / len(top)
    return scores


def borda_points(ballot: Ballot, candidates: Sequence[str]) -> dict[str, float]:
    """n-1 points for first place down to 0 for last; tied candidates share the average of their places."""
    points: dict[str, float] = {}
    below = len(candidates)
    for tier in complete_tiers(ballot, candidates):
        below -= len(tier)
        for c in tier:
            points[c] = below + (len(tier) - 1) / 2
    return points


@register_rule("borda", "n-1 points for first place down to 0 for last; tied candidates share the average")
def borda(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    scores = {c: 0.0 for c in candidates}
    for b in ballots:
        if not b.ranking:
            continue
        for c, p in borda_points(b, candidates).items():
            scores[c] += b.weight * p
    return scores


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


from . import rules as _rules  # noqa: E402,F401  (registers the other rules)

"""A ballot and how it reads: a voter's ranking (ties allowed), with utilities for scored ballots and approvals for
approval ballots; the readings every rule shares (completed tiers, Borda points, pairwise margins, utilities,
approvals). Pure functions, no registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from agora.errors import ConfigError

Margins = dict[tuple[str, str], float]


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


def complete_tiers(ballot: Ballot, candidates: Sequence[str]) -> list[tuple[str, ...]]:
    """The ballot's tiers restricted to ``candidates``, with unranked candidates tied last."""
    tiers = [tuple(c for c in tier if c in candidates) for tier in ballot.ranking]
    tiers = [t for t in tiers if t]
    ranked = {c for t in tiers for c in t}
    rest = tuple(c for c in candidates if c not in ranked)
    if rest:
        tiers.append(rest)
    return tiers


def borda_points(ballot: Ballot, candidates: Sequence[str]) -> dict[str, float]:
    """n-1 points for first place down to 0 for last; tied candidates share the average of their places."""
    points: dict[str, float] = {}
    below = len(candidates)
    for tier in complete_tiers(ballot, candidates):
        below -= len(tier)
        for c in tier:
            points[c] = below + (len(tier) - 1) / 2
    return points


def margins(ballots: Sequence[Ballot], candidates: Sequence[str]) -> Margins:
    """``m[(a, b)]``: weight of ballots preferring a to b minus the weight preferring b to a."""
    m: Margins = {(a, b): 0.0 for a in candidates for b in candidates if a != b}
    for ballot in ballots:
        if not ballot.ranking:
            continue
        level = {c: i for i, tier in enumerate(complete_tiers(ballot, candidates)) for c in tier}
        for a, b in combinations(candidates, 2):
            if level[a] < level[b]:
                m[(a, b)] += ballot.weight
                m[(b, a)] -= ballot.weight
            elif level[b] < level[a]:
                m[(b, a)] += ballot.weight
                m[(a, b)] -= ballot.weight
    return m


def utilities(ballot: Ballot, candidates: Sequence[str]) -> dict[str, float]:
    """The ballot's utilities for ``candidates`` (its own, else derived from its ranking, see the module doc)."""
    if ballot.utilities is not None:
        missing = [c for c in candidates if c not in ballot.utilities]
        if missing:
            raise ConfigError(
                f"ballot of {ballot.voter!r} has no utility for {missing[0]!r}", field="utilities"
            )
        return {c: float(ballot.utilities[c]) for c in candidates}
    points = borda_points(ballot, candidates)
    return {c: (points[c] + 1) / len(candidates) for c in candidates}


def approvals(ballot: Ballot, candidates: Sequence[str]) -> set[str]:
    """What the ballot approves: its explicit approvals; else candidates at or above its mean utility when it has
    utilities; else its first tier."""
    if ballot.approved is not None:
        return {c for c in ballot.approved if c in candidates}
    if ballot.utilities is not None:
        u = utilities(ballot, candidates)
        mean = sum(u.values()) / len(u)
        return {c for c in candidates if u[c] >= mean - 1e-12}
    tiers = complete_tiers(ballot, candidates)
    return set(tiers[0]) if tiers else set()

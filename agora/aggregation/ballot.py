"""A ballot and how it reads: a voter's ranking (ties allowed), with utilities for scored ballots and approvals for
approval ballots; the readings every rule shares (completed tiers, Borda points, pairwise margins, utilities,
approvals). Pure functions, no registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
    wanted = candidates if isinstance(candidates, (set, frozenset)) else set(candidates)
    tiers = [tuple(c for c in tier if c in wanted) for tier in ballot.ranking]
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


_last_matrix: tuple[object, list[list[float]]] | None = None


def margin_matrix(ballots: Sequence[Ballot], candidates: Sequence[str]) -> list[list[float]]:
    """The margins as a matrix over candidate positions: ``matrix[i][j]`` is ``m[(candidates[i], candidates[j])]``.

    Ballots with the same ranking are counted once with their weights summed; each distinct ranking then costs one
    addition per pair of candidates it orders (the pairwise rules' main cost). The last matrix is remembered, so
    that several pairwise rules run on the same ballots (``agora aggregate --rule all``) count them once.
    """
    global _last_matrix
    grouped: dict[tuple[tuple[str, ...], ...], float] = {}
    for ballot in ballots:
        if ballot.ranking:
            grouped[ballot.ranking] = grouped.get(ballot.ranking, 0.0) + ballot.weight
    key = (tuple(candidates), tuple(grouped.items()))
    last = _last_matrix
    if last is not None and last[0] == key:
        return [list(row) for row in last[1]]
    n = len(candidates)
    index = {c: i for i, c in enumerate(candidates)}
    wins = [[0.0] * n for _ in range(n)]  # wins[i][j]: weight of ballots ranking i above j
    for ranking, weight in grouped.items():
        below = set(range(n))
        for tier in ranking:
            level = [i for i in dict.fromkeys(index[c] for c in tier if c in index) if i in below]
            if not level:
                continue
            below.difference_update(level)
            if not below:
                break
            rest = list(below)
            for i in level:
                row = wins[i]
                for j in rest:
                    row[j] += weight
    matrix = [[wins[i][j] - wins[j][i] for j in range(n)] for i in range(n)]
    _last_matrix = (key, matrix)
    return [list(row) for row in matrix]


def margins(ballots: Sequence[Ballot], candidates: Sequence[str]) -> Margins:
    """``m[(a, b)]``: weight of ballots preferring a to b minus the weight preferring b to a."""
    matrix = margin_matrix(ballots, candidates)
    return {
        (a, b): matrix[i][j] for i, a in enumerate(candidates) for j, b in enumerate(candidates) if i != j
    }


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

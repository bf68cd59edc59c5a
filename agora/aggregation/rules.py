"""The social-choice rules. Each is a pure function ``rule(ballots, candidates) -> {candidate: score}``.

Higher scores rank higher; candidates with equal scores tie, and every candidate in the top tier is a winner of the
rule as social choice defines it (ties visible, never broken here: :func:`agora.aggregation.outcome.aggregate` breaks a tie for
first with a seeded, recorded draw). Ballots carry a weight; unweighted aggregation sets every weight to 1.

Three families:

- **positional** (plurality, Borda) and **runoff** (instant runoff) read each ballot's order;
- **pairwise** (Copeland, minimax, Schulze, ranked pairs, Kemeny-Young) read the weighted margin matrix
  ``m(a, b) = weight of ballots ranking a above b - weight ranking b above a``; a ballot ranks every candidate it
  leaves out below those it ranks, tied with each other;
- **cardinal** (approval, score, egalitarian maximin, Nash welfare) read utilities: a ballot's own utilities when it
  has them (scored ballots give each candidate the probability the voter's model assigns it), otherwise
  ``(Borda points + 1) / n``, so a ranking-only ballot gives its first choice 1 and its last 1/n.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import combinations

from agora.aggregation.ballot import (
    Ballot,
    Margins,
    approvals,
    borda_points,
    complete_tiers,
    margins,
    utilities,
)
from agora.aggregation.registry import register_rule
from agora.errors import ConfigError

KEMENY_MAX_CANDIDATES = 12


# -- positional --------------------------------------------------------------------------------------------------
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


@register_rule("borda", "n-1 points for first place down to 0 for last; tied candidates share the average")
def borda(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    scores = {c: 0.0 for c in candidates}
    for b in ballots:
        if not b.ranking:
            continue
        for c, p in borda_points(b, candidates).items():
            scores[c] += b.weight * p
    return scores


def _reaches(edges: set[tuple[str, str]], start: str, goal: str) -> bool:
    seen, stack = {start}, [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for a, b in edges:
            if a == node and b not in seen:
                seen.add(b)
                stack.append(b)
    return False


# -- runoff --------------------------------------------------------------------------------------------------------
@register_rule(
    "instant_runoff",
    "eliminate the candidates with the fewest first choices (all of them at once) until one has a majority",
)
def instant_runoff(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Score = the round a candidate was eliminated in (winners get one more than the last round).

    First choices are counted among the remaining candidates; a ballot whose first remaining tier holds several
    candidates splits its weight among them. When every remaining candidate ties for fewest, they all win.
    """
    remaining = list(candidates)
    scores: dict[str, float] = {}
    round_no = 0
    while remaining:
        round_no += 1
        firsts = {c: 0.0 for c in remaining}
        total = 0.0
        for ballot in ballots:
            if not ballot.ranking:
                continue
            top = complete_tiers(ballot, remaining)[0]
            for c in top:
                firsts[c] += ballot.weight / len(top)
            total += ballot.weight
        leader = max(firsts.values())
        if len(remaining) == 1 or leader > total / 2 + 1e-12:
            winners = [c for c in remaining if math.isclose(firsts[c], leader, abs_tol=1e-12)]
            for c in remaining:
                scores[c] = round_no + (1 if c in winners else 0)
            return scores
        fewest = min(firsts.values())
        out = [c for c in remaining if math.isclose(firsts[c], fewest, abs_tol=1e-12)]
        if len(out) == len(remaining):  # everyone tied: they all win
            for c in remaining:
                scores[c] = round_no + 1
            return scores
        for c in out:
            scores[c] = round_no
        remaining = [c for c in remaining if c not in out]
    return scores


# -- pairwise ------------------------------------------------------------------------------------------------------
@register_rule("copeland", "pairwise majority contests: 1 point per win, 1/2 per tie")
def copeland(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    m = margins(ballots, candidates)
    scores = {c: 0.0 for c in candidates}
    for a, b in combinations(candidates, 2):
        if m[(a, b)] > 0:
            scores[a] += 1
        elif m[(a, b)] < 0:
            scores[b] += 1
        else:
            scores[a] += 0.5
            scores[b] += 0.5
    return scores


@register_rule(
    "minimax", "Simpson-Kramer: the smallest worst pairwise defeat wins (score = -largest loss margin)"
)
def minimax(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    m = margins(ballots, candidates)
    return {
        c: -max([m[(d, c)] for d in candidates if d != c and m[(d, c)] > 0], default=0.0) for c in candidates
    }


@register_rule(
    "schulze",
    "beat path: a beats b if the strongest chain of majority wins from a to b is stronger than back",
)
def schulze(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Path strength is the smallest margin along a chain of positive margins; winners are beaten by nobody.

    Score = -(number of candidates that beat c); the beat relation is transitive, so this orders it.
    """
    m = margins(ballots, candidates)
    p = {(a, b): (m[(a, b)] if m[(a, b)] > 0 else 0.0) for a in candidates for b in candidates if a != b}
    for k in candidates:  # Floyd-Warshall on the widest path
        for a in candidates:
            if a == k:
                continue
            for b in candidates:
                if b in (a, k):
                    continue
                p[(a, b)] = max(p[(a, b)], min(p[(a, k)], p[(k, b)]))
    return {c: -float(sum(1 for d in candidates if d != c and p[(d, c)] > p[(c, d)])) for c in candidates}


def _ranked_pairs_locks(m: Margins, candidates: Sequence[str]) -> list[set[tuple[str, str]]]:
    """Every locked graph Ranked Pairs can end with, over all orders of equal-margin pairs."""
    edges = [(a, b) for (a, b), v in m.items() if v > 0]
    groups: dict[float, list[tuple[str, str]]] = {}
    for e in edges:
        groups.setdefault(m[e], []).append(e)
    states: set[frozenset[tuple[str, str]]] = {frozenset()}
    for value in sorted(groups, reverse=True):
        group = groups[value]
        next_states: set[frozenset[tuple[str, str]]] = set()
        for state in states:
            _lock_group(set(state), frozenset(group), next_states, set())
        states = next_states
    return [set(s) for s in sorted(states, key=lambda s: sorted(s))]


def _lock_group(locked: set, todo: frozenset, out: set, seen: set) -> None:
    key = (frozenset(locked), todo)
    if key in seen:
        return
    seen.add(key)
    if not todo:
        out.add(frozenset(locked))
        return
    for edge in sorted(todo):
        rest = todo - {edge}
        if _reaches(locked, edge[1], edge[0]):  # locking it would close a cycle: skip it
            _lock_group(locked, rest, out, seen)
        else:
            _lock_group(locked | {edge}, rest, out, seen)


@register_rule(
    "ranked_pairs",
    "Tideman: lock in majority wins from the largest margin down, skipping any that would close a cycle",
)
def ranked_pairs(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Winners are the unbeaten candidates of some locked graph, over every order of equal-margin pairs.

    The rest are ordered by the first locked graph: score = -(number of candidates with a locked path to c).
    """
    m = margins(ballots, candidates)
    locks = _ranked_pairs_locks(m, candidates)
    winners = {c for locked in locks for c in candidates if not any(b == c for _, b in locked)}
    first = locks[0]
    scores = {}
    for c in candidates:
        if c in winners:
            scores[c] = 0.0
        else:
            scores[c] = -float(sum(1 for d in candidates if d != c and _reaches(first, d, c)))
    return scores


@register_rule(
    "kemeny_young",
    "the ranking that agrees with the most pairwise preferences; score = best such total with c ranked first",
)
def kemeny_young(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Exact, by dynamic programming over subsets (up to 12 candidates).

    A ranking's total is the sum of ``m(a, b)`` over pairs it puts a above b. Score of c = the largest total of a
    ranking that puts c first, so the winners are exactly the candidates first in some Kemeny ranking.
    """
    n = len(candidates)
    if n > KEMENY_MAX_CANDIDATES:
        raise ConfigError(
            f"kemeny_young is exact only up to {KEMENY_MAX_CANDIDATES} candidates, got {n}", field="rule"
        )
    m = margins(ballots, candidates)
    index = list(candidates)
    # best[S]: the largest total of a ranking of the candidates in bitmask S (among themselves)
    best = [0.0] * (1 << n)
    for mask in range(1, 1 << n):
        members = [i for i in range(n) if mask >> i & 1]
        value = -math.inf
        for i in members:  # i goes last among S
            above = sum(m[(index[j], index[i])] for j in members if j != i)
            value = max(value, best[mask & ~(1 << i)] + above)
        best[mask] = value
    full = (1 << n) - 1
    return {
        index[i]: best[full & ~(1 << i)] + sum(m[(index[i], index[j])] for j in range(n) if j != i)
        for i in range(n)
    }


# -- cardinal ------------------------------------------------------------------------------------------------------
@register_rule(
    "approval", "each ballot approves some candidates (explicitly, above its mean utility, or its first tier)"
)
def approval(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    scores = {c: 0.0 for c in candidates}
    for ballot in ballots:
        for c in approvals(ballot, candidates):
            scores[c] += ballot.weight
    return scores


def _utility_sum(
    ballots: Sequence[Ballot], candidates: Sequence[str], transform: Callable[[Ballot, str, float], float]
) -> dict[str, float]:
    """Sum over ballots of ``weight * transform(ballot, candidate, utility)`` per candidate."""
    scores = {c: 0.0 for c in candidates}
    for ballot in ballots:
        u = utilities(ballot, candidates)
        for c in candidates:
            scores[c] += ballot.weight * transform(ballot, c, u[c])
    return scores


@register_rule("score", "utilitarian: the largest weighted sum of the voters' utilities")
def score(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    return _utility_sum(ballots, candidates, lambda ballot, c, u: u)


@register_rule(
    "maximin", "egalitarian: the candidate whose worst-off voter is best off (least utility, highest)"
)
def maximin(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Score = the smallest utility any voter gives c (weights do not scale a floor)."""
    lows = {c: math.inf for c in candidates}
    for ballot in ballots:
        u = utilities(ballot, candidates)
        for c in candidates:
            lows[c] = min(lows[c], u[c])
    return {c: (v if v != math.inf else 0.0) for c, v in lows.items()}


@register_rule("nash", "Nash welfare: the largest weighted sum of log utilities (utilities must be positive)")
def nash(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    def log_utility(ballot: Ballot, c: str, u: float) -> float:
        if u <= 0:
            raise ConfigError(
                f"nash needs positive utilities; ballot of {ballot.voter!r} gives {c!r} {u:g}",
                field="utilities",
            )
        return math.log(u)

    return _utility_sum(ballots, candidates, log_utility)

"""The social-choice rules. Each is a pure function ``rule(ballots, candidates) -> {candidate: score}``.

Higher scores rank higher; candidates with equal scores tie, and every candidate in the top tier is a winner of the
rule as social choice defines it (ranked pairs past its search limit: see :func:`ranked_pairs`; ties visible, never
broken here: :func:`agora.aggregation.outcome.aggregate` breaks a tie for
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

import logging
import math
from collections.abc import Callable, Sequence

from agora.aggregation.ballot import (
    Ballot,
    approvals,
    borda_points,
    margin_matrix,
    utilities,
)
from agora.aggregation.locking import (
    RANKED_PAIRS_SEARCH_LIMIT,
    _lock_for,
    _lock_in_order,
    _margin_key,
    _ranked_pairs_order,
    _unbeaten,
    _winners_over_all_orders,
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
    for b, weight in _merged(ballots):
        if not b.ranking:
            continue
        for c, p in borda_points(b, candidates).items():
            scores[c] += weight * p
    return scores


def _merged(ballots: Sequence[Ballot]) -> list[tuple[Ballot, float]]:
    """The ballots, those that read alike (same ranking and approvals, no utilities of their own) merged into the
    first of them with their weights summed: what a rule reading each ballot whole counts once."""
    merged: dict[tuple[object, ...], list] = {}
    out: list[list] = []
    for b in ballots:
        if b.utilities is not None:
            out.append([b, b.weight])
            continue
        entry = merged.get((b.ranking, b.approved))
        if entry is None:
            entry = merged[(b.ranking, b.approved)] = [b, 0.0]
            out.append(entry)
        entry[1] += b.weight
    return [(b, w) for b, w in out]


# -- runoff --------------------------------------------------------------------------------------------------------
@register_rule(
    "instant_runoff",
    "eliminate the candidates with the fewest first choices (all of them at once) until one has a majority",
)
def instant_runoff(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Score = the round a candidate was eliminated in (winners get one more than the last round).

    First choices are counted among the remaining candidates; a ballot whose first remaining tier holds several
    candidates splits its weight among them, and a ballot none of whose ranked candidates remains splits it among
    every remaining candidate (it ties them all, last). When every remaining candidate ties for fewest, they all
    win. Each ballot keeps its place between rounds, so a count costs one pass over the ballots per round.
    """
    remaining = list(candidates)
    alive = set(remaining)
    counted = [b for b in ballots if b.ranking]
    total = sum(b.weight for b in counted)
    place = [0] * len(counted)  # per ballot: its first tier that may still hold a remaining candidate
    scores: dict[str, float] = {}
    round_no = 0
    while remaining:
        round_no += 1
        firsts = dict.fromkeys(remaining, 0.0)
        spread = 0.0  # weight of exhausted ballots, split evenly over every remaining candidate
        for k, ballot in enumerate(counted):
            tiers, t, top = ballot.ranking, place[k], []
            while t < len(tiers):
                top = [c for c in tiers[t] if c in alive]
                if top:
                    break
                t += 1
            place[k] = t
            if top:
                for c in top:
                    firsts[c] += ballot.weight / len(top)
            else:
                spread += ballot.weight / len(remaining)
        if spread:
            for c in remaining:
                firsts[c] += spread
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
        alive.difference_update(out)
        remaining = [c for c in remaining if c in alive]
    return scores


# -- pairwise ------------------------------------------------------------------------------------------------------
@register_rule("copeland", "pairwise majority contests: 1 point per win, 1/2 per tie")
def copeland(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    m = margin_matrix(ballots, candidates)
    return {
        c: sum(1.0 if v > 0 else 0.5 if v == 0 else 0.0 for j, v in enumerate(m[i]) if j != i)
        for i, c in enumerate(candidates)
    }


@register_rule(
    "minimax", "Simpson-Kramer: the smallest worst pairwise defeat wins (score = -largest loss margin)"
)
def minimax(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    m = margin_matrix(ballots, candidates)
    n = len(candidates)
    return {
        c: -max([m[d][i] for d in range(n) if m[d][i] > 0], default=0.0) for i, c in enumerate(candidates)
    }


def _widest_paths(m: list[list[float]]) -> list[list[float]]:
    """``p[a][b]``: the strength of the strongest chain of positive margins from a to b (the smallest margin along
    it; 0 when there is none). Floyd-Warshall, O(n^3); the diagonal means nothing."""
    n = len(m)
    p = [[v if v > 0 else 0.0 for v in row] for row in m]
    for k in range(n):
        through = p[k]
        for a in range(n):
            first = p[a][k]
            if a == k or first <= 0:
                continue
            p[a] = [
                x if x >= first or x >= y else (first if first < y else y)
                for x, y in zip(p[a], through, strict=True)
            ]
    return p


@register_rule(
    "schulze",
    "beat path: a beats b if the strongest chain of majority wins from a to b is stronger than back",
)
def schulze(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Path strength is the smallest margin along a chain of positive margins; winners are beaten by nobody.

    Score = -(number of candidates that beat c); the beat relation is transitive, so this orders it.
    """
    p = _widest_paths(margin_matrix(ballots, candidates))
    n = len(candidates)
    return {
        c: -float(sum(1 for d in range(n) if d != i and p[d][i] > p[i][d])) for i, c in enumerate(candidates)
    }


_log = logging.getLogger(__name__)
_warned: set[str] = set()  # fallback warnings already given


# -- ranked pairs --------------------------------------------------------------------------------------------------
@register_rule(
    "ranked_pairs",
    "Tideman: lock in majority wins from the largest margin down, skipping any that would close a cycle",
)
def ranked_pairs(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Winners: the candidates unbeaten in the locked graph of *some* order of the equal-margin pairs (Tideman's
    rule with every tie-breaking order, the winners pref_voting reports), found exactly within
    :data:`RANKED_PAIRS_SEARCH_LIMIT` steps of search; past that (the question is NP-hard in general), the winners
    of the tie-breaking order alone, with a logged warning.

    Tie-breaking order: pairs of equal margin (equal to 9 decimals) are locked in the order of their winners in
    the tie-breaking ranking, and for the same winner from the loser ranked lowest up. The tie-breaking ranking
    orders the candidates by net margin (the sum of their margins, Borda's order for complete ballots), then by
    their order in ``candidates``. Its locked graph is one of those above, so its unbeaten candidates always win.

    The search is short in practice: a candidate can win only if its every defeat (y over it, margin M) is
    answered by a chain of margins of at least M from it back to y (checked on the widest paths); when these
    candidates are the tie-breaking order's winners, no search is needed (a Condorcet winner, one strongest chain
    of defeats), then each other such candidate tries an order of equal margins favouring it, and only those
    still undecided are searched for.

    Score: 0 for a winner; any other candidate gets -(number of candidates with a locked path to it in the locked
    graph of the tie-breaking order), so every loser scores -1 or lower and the rest of the ranking follows that
    graph. Polynomial: O(n^3) for the lock-in, the widest paths and each favouring order, plus the bounded search.
    """
    m = margin_matrix(ballots, candidates)
    n = len(candidates)
    groups = _ranked_pairs_order(m)
    reach = _lock_in_order(n, groups)
    winners = _unbeaten(reach)
    p = _widest_paths(m)
    hopeful = sum(  # a candidate can win only if a chain at least as strong answers each defeat
        1 << x
        for x in range(n)
        if all(_margin_key(p[x][y]) >= _margin_key(m[y][x]) for y in range(n) if y != x and m[y][x] > 0)
    )
    found = winners
    for x in range(n):
        if hopeful >> x & 1 and not found >> x & 1:
            found |= _lock_for(x, n, groups)
    if hopeful & ~found:
        found = _winners_over_all_orders(n, groups, found, hopeful, RANKED_PAIRS_SEARCH_LIMIT)
    if found is not None:
        winners = found
    else:
        message = (
            "ranked_pairs: too many equal margins to find the winners over every order of them within "
            f"{RANKED_PAIRS_SEARCH_LIMIT:,} steps; counted the winners of the tie-breaking order"
        )
        if message not in _warned:
            _warned.add(message)
            _log.warning("agora: warning: %s", message)
    return {
        c: 0.0 if winners >> i & 1 else -float(sum(1 for d in range(n) if d != i and reach[d] >> i & 1))
        for i, c in enumerate(candidates)
    }


@register_rule(
    "kemeny_young",
    "the ranking that agrees with the most pairwise preferences; score = best such total with c ranked first",
)
def kemeny_young(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """Exact, by dynamic programming over subsets, up to :data:`KEMENY_MAX_CANDIDATES` candidates; more are refused
    with a :class:`ConfigError` (no approximation: the search doubles with each candidate).

    A ranking's total is the sum of ``m(a, b)`` over pairs it puts a above b. Score of c = the largest total of a
    ranking that puts c first, so the winners are exactly the candidates first in some Kemeny ranking.
    """
    n = len(candidates)
    if n > KEMENY_MAX_CANDIDATES:
        raise ConfigError(
            f"kemeny_young is exact only up to {KEMENY_MAX_CANDIDATES} candidates, got {n}: it does not "
            "approximate; use schulze or ranked_pairs for more",
            field="rule",
        )
    m = margin_matrix(ballots, candidates)
    # best[S]: the largest total of a ranking of the candidates in bitmask S (among themselves)
    best = [0.0] * (1 << n)
    for mask in range(1, 1 << n):
        members = [i for i in range(n) if mask >> i & 1]
        value = -math.inf
        for i in members:  # i goes last among S
            above = sum(m[j][i] for j in members if j != i)
            value = max(value, best[mask & ~(1 << i)] + above)
        best[mask] = value
    full = (1 << n) - 1
    return {
        c: best[full & ~(1 << i)] + sum(m[i][j] for j in range(n) if j != i) for i, c in enumerate(candidates)
    }


# -- cardinal ------------------------------------------------------------------------------------------------------
@register_rule(
    "approval", "each ballot approves some candidates (explicitly, above its mean utility, or its first tier)"
)
def approval(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    scores = {c: 0.0 for c in candidates}
    for ballot, weight in _merged(ballots):
        for c in approvals(ballot, candidates):
            scores[c] += weight
    return scores


def _utility_sum(
    ballots: Sequence[Ballot], candidates: Sequence[str], transform: Callable[[Ballot, str, float], float]
) -> dict[str, float]:
    """Sum over ballots of ``weight * transform(ballot, candidate, utility)`` per candidate."""
    scores = {c: 0.0 for c in candidates}
    for ballot, weight in _merged(ballots):
        u = utilities(ballot, candidates)
        for c in candidates:
            scores[c] += weight * transform(ballot, c, u[c])
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
    for ballot, _ in _merged(ballots):
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

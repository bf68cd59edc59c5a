"""How robust an outcome is: whether the ballots have a Condorcet winner or a majority cycle, how many rules agree on
the winner, the fewest ballots whose change would elect someone else, and whether the winner survives leaving out
each voter in turn. Pure functions over counted ballots; the run records the result in every voted outcome.

- **Condorcet winner**: the candidate a majority (by weight) prefers to each other candidate, if one exists;
  **majority cycle**: the strict majority relation has a cycle (A beats B beats C beats A).
- **Rules agreeing**: the built-in rules whose winners are exactly the outcome's winner (a rule that cannot answer
  these ballots, such as Kemeny-Young beyond its exact size, is left out and named).
- **Flip**: the fewest ballots that, re-cast to rank one of the winner's nearest challengers (the next
  :data:`FLIP_CHALLENGERS` candidates of the outcome's ranking) first and the winner last (each keeping its weight,
  the rest of its order unchanged), make the winner lose or tie under the deciding rule; and which challenger.
  With up to :data:`EXACT_FLIP_BALLOTS` ballots every set of ballots is tried (``exact``: the true minimum for
  such changes); beyond, ballots are changed greedily, those ranking the winner highest first (an upper bound:
  ``exact`` false). 0 when the winner already tied and a seeded draw chose it; None when no such change elects
  another candidate.
- **Leave one out**: the voters whose ballot, left out, changes the winner (``pivotal``); ``survives`` when none.

Beyond :data:`MAX_BALLOTS` ballots the flip and leave-one-out searches are skipped (``skipped`` says so): they
re-count the ballots once per voter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import combinations
from typing import Any

import networkx as nx

from agora.aggregation.ballot import Ballot, complete_tiers, margins
from agora.aggregation.outcome import aggregate
from agora.aggregation.registry import RULES
from agora.errors import AgoraError

EXACT_FLIP_BALLOTS = 10
MAX_BALLOTS = 200
#: challengers tried by the flip search: the candidates ranked right after the winner
FLIP_CHALLENGERS = 3


def condorcet(ballots: Sequence[Ballot], candidates: Sequence[str]) -> tuple[str | None, bool]:
    """(the Condorcet winner or None, whether the strict majority relation has a cycle)."""
    m = margins(ballots, candidates)
    beats = nx.DiGraph()
    beats.add_nodes_from(candidates)
    beats.add_edges_from((a, b) for (a, b), v in m.items() if v > 1e-12)
    winner = next((c for c in candidates if beats.out_degree(c) == len(candidates) - 1), None)
    return winner, not nx.is_directed_acyclic_graph(beats)


def rules_agreeing(
    ballots: Sequence[Ballot], candidates: Sequence[str], winner: str, *, weighted: bool
) -> dict[str, Any]:
    """Which built-in rules elect exactly ``winner``, which elect others (and whom), which cannot answer."""
    agree, disagree, skipped = [], {}, {}
    for name in RULES:
        try:
            winners = aggregate(ballots, candidates, name, weighted=weighted).winners
        except AgoraError as exc:
            skipped[name] = str(exc)
            continue
        if winners == [winner]:
            agree.append(name)
        else:
            disagree[name] = winners
    return {"agree": agree, "disagree": disagree, "skipped": skipped}


def _recast(ballot: Ballot, candidates: Sequence[str], challenger: str, winner: str) -> Ballot:
    """``ballot`` ranking ``challenger`` first and ``winner`` last, the others in its order between (its weight)."""
    middle = [c for tier in complete_tiers(ballot, candidates) for c in tier if c not in (challenger, winner)]
    return Ballot.of(ballot.voter, [challenger, *middle, winner], ballot.weight)


def _elects_other(
    ballots: Sequence[Ballot], candidates: Sequence[str], rule: str, winner: str, weighted: bool, seed: int
) -> bool:
    return aggregate(ballots, candidates, rule, weighted=weighted, seed=seed).winners != [winner]


def flip(
    ballots: Sequence[Ballot],
    candidates: Sequence[str],
    rule: str,
    winner: str,
    challengers: Sequence[str],
    *,
    weighted: bool,
    seed: int,
) -> dict[str, Any]:
    """The fewest ballots whose change elects another candidate (see the module doc)."""
    if _elects_other(ballots, candidates, rule, winner, weighted, seed):
        return {"ballots": 0, "to": None, "exact": True}
    n = len(ballots)
    exact = n <= EXACT_FLIP_BALLOTS
    best: dict[str, Any] = {"ballots": None, "to": None, "exact": exact}
    for challenger in challengers:
        movable = [i for i, b in enumerate(ballots) if challenger not in b.top or len(b.top) > 1]
        if exact:
            orders = (subset for k in range(1, len(movable) + 1) for subset in combinations(movable, k))
        else:
            level = {i: _level(ballots[i], candidates, winner) for i in movable}
            ranked = sorted(movable, key=lambda i: (level[i], -ballots[i].weight, i))
            orders = (tuple(ranked[:k]) for k in range(1, len(ranked) + 1))
        limit = best["ballots"]
        for subset in orders:
            if limit is not None and len(subset) >= limit:
                break
            changed = list(ballots)
            for i in subset:
                changed[i] = _recast(ballots[i], candidates, challenger, winner)
            if _elects_other(changed, candidates, rule, winner, weighted, seed):
                best = {"ballots": len(subset), "to": challenger, "exact": exact}
                break
    return best


def _level(ballot: Ballot, candidates: Sequence[str], c: str) -> int:
    """The tier ``ballot`` puts ``c`` in (0 = first)."""
    return next(i for i, tier in enumerate(complete_tiers(ballot, candidates)) if c in tier)


def leave_one_out(
    ballots: Sequence[Ballot], candidates: Sequence[str], rule: str, winner: str, *, weighted: bool, seed: int
) -> dict[str, Any]:
    """The voters whose ballot, left out, changes the winner."""
    pivotal = []
    for i, ballot in enumerate(ballots):
        rest = list(ballots[:i]) + list(ballots[i + 1 :])
        if aggregate(rest, candidates, rule, weighted=weighted, seed=seed).winner != winner:
            pivotal.append(ballot.voter)
    return {"survives": not pivotal, "pivotal": pivotal}


def robustness(
    ballots: Sequence[Ballot],
    candidates: Sequence[str],
    rule: str,
    winner: str,
    ranking: Sequence[Sequence[str]],
    *,
    weighted: bool,
    seed: int,
) -> dict[str, Any]:
    """Everything above for an outcome whose deciding ``rule`` elected ``winner`` with ``ranking``."""
    counted = [b if weighted else replace(b, weight=1.0) for b in ballots if b.ranking]
    condorcet_winner, cycle = condorcet(counted, candidates)
    report: dict[str, Any] = {
        "condorcet_winner": condorcet_winner,
        "majority_cycle": cycle,
        "rules": rules_agreeing(counted, candidates, winner, weighted=weighted),
    }
    if len(counted) > MAX_BALLOTS:
        report["skipped"] = f"flip and leave-one-out not computed for more than {MAX_BALLOTS} ballots"
        return report
    challengers = [c for tier in ranking for c in tier if c != winner][:FLIP_CHALLENGERS]
    report["flip"] = flip(counted, candidates, rule, winner, challengers, weighted=weighted, seed=seed)
    report["leave_one_out"] = leave_one_out(counted, candidates, rule, winner, weighted=weighted, seed=seed)
    return report

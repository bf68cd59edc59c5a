"""The veto rule (anti-plurality)."""

from __future__ import annotations

from collections.abc import Sequence

from agora.aggregation.ballot import Ballot, complete_tiers


def veto(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]:
    """veto (anti-plurality): each ballot's last choice loses the voter's weight; the least vetoed wins

    A ballot that ties every candidate vetoes none; tied last choices share the veto.
    """
    scores = {c: 0.0 for c in candidates}
    for ballot in ballots:
        tiers = complete_tiers(ballot, candidates)
        if len(tiers) < 2:
            continue
        for c in tiers[-1]:
            scores[c] -= ballot.weight / len(tiers[-1])
    return scores

"""Who dissented, by how much, and which stated values split the winners' side from the rest.

Definitions (pure functions, used for every outcome):

- a **dissenter** is a voter whose first choice (every candidate in its first tier) does not include the winner;
  its **shortfall** is the winner's score under the deciding rule minus the best score among its first choices;
- the **supporters** are the voters whose first tier includes the winner; everyone else who voted is the
  **opposition**;
- a side's **value profile** is the mean, over its voters, of each stated value's normalised weight (a value a
  persona does not state counts 0);
- the **value split** lists each value with ``supporters - opposition`` (positive: the winners' side cares more);
- the values that **pulled apart** are the value the supporters lead on most and the one the opposition leads on
  most (present only when both sides lead on something).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agora.aggregation.ballot import Ballot


def dissent(
    ballots: Sequence[Ballot], winner: str | None, scores: Mapping[str, float]
) -> list[dict[str, Any]]:
    out = []
    if winner is None:
        return out
    for b in ballots:
        if not b.ranking or winner in b.top:
            continue
        best = max(b.top, key=lambda c: scores.get(c, float("-inf")))
        out.append(
            {
                "agent": b.voter,
                "first_choice": best,
                "shortfall": round(scores[winner] - scores.get(best, 0.0), 6),
            }
        )
    return out


def value_profile(voters: Sequence[str], values: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean normalised value weights of ``voters`` (``values``: agent -> value -> weight summing to 1)."""
    if not voters:
        return {}
    names = sorted({v for agent in voters for v in values.get(agent, {})})
    return {v: round(sum(values.get(a, {}).get(v, 0.0) for a in voters) / len(voters), 6) for v in names}


def value_conflict(
    ballots: Sequence[Ballot], winner: str | None, values: Mapping[str, Mapping[str, float]]
) -> dict[str, Any]:
    """The value-conflict report of an outcome (see the module doc for each field)."""
    voted = [b for b in ballots if b.ranking]
    supporters = [b.voter for b in voted if winner is not None and winner in b.top]
    opposition = [b.voter for b in voted if b.voter not in supporters]
    ours, theirs = value_profile(supporters, values), value_profile(opposition, values)
    names = sorted(set(ours) | set(theirs))
    split = {v: round(ours.get(v, 0.0) - theirs.get(v, 0.0), 6) for v in names}
    report: dict[str, Any] = {
        "supporters": supporters,
        "opposition": opposition,
        "supporters_values": ours,
        "opposition_values": theirs,
        "split": dict(sorted(split.items(), key=lambda kv: -abs(kv[1]))),
        "pulled_apart": None,
    }
    if supporters and opposition:
        lead = max(split, key=lambda v: split[v], default=None)
        lag = min(split, key=lambda v: split[v], default=None)
        if lead is not None and lag is not None and split[lead] > 0 > split[lag]:
            report["pulled_apart"] = [lead, lag]
    return report

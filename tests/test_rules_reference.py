"""Every rule that pref_voting also implements elects the same winners, ties included, on 1,000 random profiles.

pref_voting is a test-only dependency (it pulls numba, ortools and matplotlib): this module is skipped without it.
Profiles are linear orders with integer counts; agora receives each distinct ranking as one ballot weighted by its
count, so weights are checked at the same time.
"""

from __future__ import annotations

import random

import pytest

from agora import Ballot, aggregate

pv_profiles = pytest.importorskip("pref_voting.profiles")
vm = pytest.importorskip("pref_voting.voting_methods")

REFERENCE = {
    "plurality": vm.plurality,
    "borda": vm.borda,
    "copeland": vm.copeland,
    "minimax": vm.minimax,
    "schulze": vm.beat_path,
    # the default "basic" algorithm can run for minutes on profiles with many equal margins
    "ranked_pairs": lambda profile: vm.ranked_pairs(profile, algorithm="from_stacks"),
    "kemeny_young": vm.kemeny_young,
    "instant_runoff": vm.instant_runoff,
}
PROFILES = 1000


def random_profile(rng: random.Random) -> tuple[list[list[int]], list[int]]:
    n = rng.randint(2, 5)
    distinct = rng.randint(1, 6)
    rankings = [rng.sample(range(n), n) for _ in range(distinct)]
    counts = [rng.randint(1, 4) for _ in rankings]
    return rankings, counts


@pytest.mark.parametrize("rule", sorted(REFERENCE))
def test_winners_agree_with_pref_voting(rule):
    rng = random.Random(f"agora-{rule}")
    checked = 0
    for _ in range(PROFILES):
        rankings, counts = random_profile(rng)
        n = len(rankings[0])
        profile = pv_profiles.Profile(rankings, rcounts=counts)
        expected = sorted(f"c{c}" for c in REFERENCE[rule](profile))
        ballots = [
            Ballot.of(f"v{i}", [f"c{c}" for c in ranking], weight=count)
            for i, (ranking, count) in enumerate(zip(rankings, counts, strict=True))
        ]
        result = aggregate(ballots, [f"c{c}" for c in range(n)], rule, weighted=True)
        assert sorted(result.winners) == expected, (rule, rankings, counts, result.scores)
        checked += 1
    assert checked == PROFILES

"""Axioms the rules are known to satisfy, checked by hypothesis on random profiles.

- anonymity: who cast which ballot does not matter (every rule);
- neutrality: renaming the candidates renames the winners (every rule);
- Pareto: a candidate that every voter ranks below another never wins (all but minimax, which is not checked);
- Condorcet: a candidate that beats every other head to head wins alone under Copeland, minimax, Schulze, ranked
  pairs and Kemeny-Young.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agora import RULES, Ballot, aggregate
from agora.aggregation.ballot import margins

ALL_RULES = sorted(RULES)
PARETO_RULES = sorted(set(ALL_RULES) - {"minimax"})
CONDORCET_RULES = ["copeland", "minimax", "schulze", "ranked_pairs", "kemeny_young"]


@st.composite
def profiles(draw, weak: bool = True):
    """(candidates, ballots): 2-5 candidates, 1-7 ballots, rankings with ties when ``weak``, weights 1-3."""
    n = draw(st.integers(2, 5))
    candidates = [f"c{i}" for i in range(n)]
    ballots = []
    for v in range(draw(st.integers(1, 7))):
        order = draw(st.permutations(candidates))
        if weak:
            cuts = draw(st.lists(st.booleans(), min_size=n - 1, max_size=n - 1))
            tiers, current = [], [order[0]]
            for cand, cut in zip(order[1:], cuts, strict=True):
                if cut:
                    tiers.append(current)
                    current = [cand]
                else:
                    current.append(cand)
            tiers.append(current)
        else:
            tiers = [[c] for c in order]
        ballots.append(Ballot.of(f"v{v}", tiers, weight=draw(st.integers(1, 3))))
    return candidates, ballots


def winners(ballots, candidates, rule):
    return set(aggregate(ballots, candidates, rule, weighted=True).winners)


@settings(max_examples=150, deadline=None)
@given(profiles(), st.randoms(use_true_random=False))
def test_anonymity(profile, rnd):
    candidates, ballots = profile
    shuffled = list(ballots)
    rnd.shuffle(shuffled)
    renamed = [Ballot.of(f"x{i}", b.ranking, b.weight) for i, b in enumerate(shuffled)]
    for rule in ALL_RULES:
        assert winners(ballots, candidates, rule) == winners(renamed, candidates, rule), rule


@settings(max_examples=150, deadline=None)
@given(profiles(), st.randoms(use_true_random=False))
def test_neutrality(profile, rnd):
    candidates, ballots = profile
    image = list(candidates)
    rnd.shuffle(image)
    rename = dict(zip(candidates, image, strict=True))
    moved = [Ballot.of(b.voter, [[rename[c] for c in tier] for tier in b.ranking], b.weight) for b in ballots]
    for rule in ALL_RULES:
        expected = {rename[c] for c in winners(ballots, candidates, rule)}
        assert winners(moved, candidates, rule) == expected, rule


@settings(max_examples=200, deadline=None)
@given(profiles(weak=False))
def test_pareto_dominated_candidates_never_win(profile):
    candidates, ballots = profile
    position = [{c: i for i, (c,) in enumerate(b.ranking)} for b in ballots]
    dominated = {b for a in candidates for b in candidates if a != b and all(p[a] < p[b] for p in position)}
    for rule in PARETO_RULES:
        assert not (winners(ballots, candidates, rule) & dominated), rule


@settings(max_examples=200, deadline=None)
@given(profiles())
def test_condorcet_winner_wins_alone(profile):
    candidates, ballots = profile
    m = margins(ballots, candidates)
    condorcet = [a for a in candidates if all(m[(a, b)] > 0 for b in candidates if b != a)]
    if not condorcet:
        return
    for rule in CONDORCET_RULES:
        assert winners(ballots, candidates, rule) == {condorcet[0]}, rule

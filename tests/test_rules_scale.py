"""The rules at size: every rule answers a large profile within a second, ranked pairs without trying every order
of equal margins (checked against a brute force that does), and `agora aggregate` stays quick."""

from __future__ import annotations

import json
import logging
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora import RULES, Ballot, ConfigError, aggregate
from agora.aggregation import ballot as ballot_module
from agora.aggregation import rules
from agora.aggregation.ballot import margins
from agora.aggregation.rules import KEMENY_MAX_CANDIDATES
from agora.cli import main


def random_profile(voters: int, n: int, seed: int) -> tuple[list[str], list[Ballot]]:
    rng = random.Random(seed)
    candidates = [f"c{i}" for i in range(n)]
    return candidates, [Ballot.of(f"v{i}", rng.sample(candidates, n)) for i in range(voters)]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_answers_100_voters_over_50_candidates_within_a_second(rule, monkeypatch):
    candidates, ballots = random_profile(100, 50, seed=2026)
    monkeypatch.setattr(ballot_module, "_last_matrix", None)  # each rule counts the margins itself
    start = time.perf_counter()
    if rule == "kemeny_young":  # exact only up to KEMENY_MAX_CANDIDATES: refused at once, saying so
        with pytest.raises(ConfigError, match=f"exact only up to {KEMENY_MAX_CANDIDATES} candidates, got 50"):
            aggregate(ballots, candidates, rule)
    else:
        result = aggregate(ballots, candidates, rule)
        assert sorted(c for tier in result.ranking for c in tier) == sorted(candidates)
    assert time.perf_counter() - start < 1.0, rule


def test_kemeny_young_answers_at_its_limit_within_a_second():
    candidates, ballots = random_profile(100, KEMENY_MAX_CANDIDATES, seed=1)
    start = time.perf_counter()
    aggregate(ballots, candidates, "kemeny_young")
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("n", [7, 8, 30, 100])
def test_ranked_pairs_on_one_ballot_is_immediate(n):
    # every margin is 1: one group of n(n-1)/2 equal margins, which the old search tried in every order
    candidates = [f"c{i}" for i in range(n)]
    start = time.perf_counter()
    result = aggregate([Ballot.of("v", candidates)], candidates, "ranked_pairs")
    assert time.perf_counter() - start < 1.0
    assert result.ranking == [[c] for c in candidates]


# -- ranked pairs against a brute force over every order of equal-margin pairs -------------------------------------
def brute_force_ranked_pairs(ballots, candidates) -> set[str]:
    """Unbeaten candidates of every locked graph, trying every order of equal-margin pairs (the previous rule)."""
    m = margins(ballots, candidates)
    groups: dict[float, list[tuple[str, str]]] = {}
    for pair, value in m.items():
        if value > 0:
            groups.setdefault(round(value, 9), []).append(pair)

    def reaches(edges, start, goal):
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

    def lock(locked, todo, out, seen):
        if (locked, todo) in seen:
            return
        seen.add((locked, todo))
        if not todo:
            out.add(locked)
        for a, b in todo:
            rest = todo - {(a, b)}
            lock(locked if reaches(locked, b, a) else locked | {(a, b)}, rest, out, seen)

    states = {frozenset()}
    for value in sorted(groups, reverse=True):
        following: set = set()
        for state in states:
            lock(state, frozenset(groups[value]), following, set())
        states = following
    return {c for s in states for c in candidates if not any(b == c for _, b in s)}


@st.composite
def weak_profiles(draw):
    """2-5 candidates, 1-7 ballots with ties and left-out candidates, weights 1-3 (many equal margins)."""
    n = draw(st.integers(2, 5))
    candidates = [f"c{i}" for i in range(n)]
    ballots = []
    for v in range(draw(st.integers(1, 7))):
        order = draw(st.permutations(candidates))
        keep = draw(st.integers(1, n))
        cuts = draw(st.lists(st.booleans(), min_size=keep - 1, max_size=keep - 1))
        tiers, current = [], [order[0]]
        for cand, cut in zip(order[1:keep], cuts, strict=True):
            if cut:
                tiers.append(current)
                current = [cand]
            else:
                current.append(cand)
        tiers.append(current)
        ballots.append(Ballot.of(f"v{v}", tiers, weight=draw(st.integers(1, 3))))
    return candidates, ballots


@settings(max_examples=300, deadline=None)
@given(weak_profiles())
def test_ranked_pairs_winners_are_those_of_every_order(profile):
    candidates, ballots = profile
    result = aggregate(ballots, candidates, "ranked_pairs", weighted=True)
    assert set(result.winners) == brute_force_ranked_pairs(ballots, candidates)
    assert all(result.scores[c] <= -1 for tier in result.ranking[1:] for c in tier)


@pytest.mark.parametrize(("n", "voters"), [(6, 3), (6, 5)])
def test_ranked_pairs_beyond_the_reference_sizes_against_the_brute_force(n, voters):
    # a few voters over more candidates than the reference profiles: margins of 1, 3 and 5 only, so large groups
    # of equal margins
    for seed in range(5):
        candidates, ballots = random_profile(voters, n, seed)
        winners = set(aggregate(ballots, candidates, "ranked_pairs").winners)
        assert winners == brute_force_ranked_pairs(ballots, candidates), seed


CYCLE = [  # A > B > C > A, every margin 1: each candidate wins under some order of the three pairs
    Ballot.of("x", ["A", "B", "C"]),
    Ballot.of("y", ["B", "C", "A"]),
    Ballot.of("z", ["C", "A", "B"]),
]


def test_ranked_pairs_falls_back_to_the_tie_breaking_order_and_says_so(monkeypatch, caplog):
    assert sorted(aggregate(CYCLE, ["A", "B", "C"], "ranked_pairs").winners) == ["A", "B", "C"]
    # no search allowed, and no favouring order: only the documented tie-breaking order is left
    monkeypatch.setattr(rules, "RANKED_PAIRS_SEARCH_LIMIT", 0)
    monkeypatch.setattr(rules, "_lock_for", lambda x, n, groups: 0)
    monkeypatch.setattr(rules, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="agora.aggregation.rules"):
        # equal net margins: the tie-breaking ranking is the candidates' order. A > B is locked first, then B > C,
        # and C > A would close a cycle
        assert aggregate(CYCLE, ["A", "B", "C"], "ranked_pairs").winners == ["A"]
    assert "counted the winners of the tie-breaking order" in caplog.text
    # C > A first (C ranks first), then B > C; A > B would close a cycle: B is unbeaten
    assert aggregate(CYCLE, ["C", "B", "A"], "ranked_pairs").winners == ["B"]


def test_ranked_pairs_scores_follow_the_tie_breaking_order_below_the_winners():
    # margins: A>B 6-3, B>C 7-2, C>A 5-4 (the test_rules cycle): locked A>B, B>C; C>A skipped
    cycle = [
        Ballot.of("x", ["A", "B", "C"], 4),
        Ballot.of("y", ["B", "C", "A"], 3),
        Ballot.of("z", ["C", "A", "B"], 2),
    ]
    result = aggregate(cycle, ["A", "B", "C"], "ranked_pairs", weighted=True)
    assert result.scores == {"A": 0.0, "B": -1.0, "C": -2.0}


# -- the command -----------------------------------------------------------------------------------------------------
def test_aggregate_all_rules_on_one_ballot_over_eight_candidates_within_two_seconds(tmp_path, capsys):
    path = tmp_path / "one.json"
    path.write_text(json.dumps({"ballots": [{"voter": "v", "ranking": [f"c{i}" for i in range(8)]}]}))
    start = time.perf_counter()
    assert main(["aggregate", str(path), "--rule", "all", "--json"]) == 0
    assert time.perf_counter() - start < 2.0
    results = json.loads(capsys.readouterr().out)
    assert {r["rule"] for r in results} >= set(RULES)
    assert {r["rule"]: r["winner"] for r in results} == dict.fromkeys((r["rule"] for r in results), "c0")

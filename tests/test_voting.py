"""Reading ballots from replies, and aggregating them (hand-computed profiles and properties)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agora import RULES, Ballot, ConfigError, aggregate, register_rule
from agora.aggregation.outcome import rank_scores
from agora.aggregation.parse import parse_ranking
from agora.aggregation.rules import borda, plurality

ABC = ["A", "B", "C"]


# -- parse_ranking -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "ranking", "method"),
    [
        ("Ranking: B, A, C", [["B"], ["A"], ["C"]], "ranking-line"),
        ("ranking: c, a", [["C"], ["A"], ["B"]], "ranking-line"),
        ("RANKING: C, A", [["C"], ["A"], ["B"]], "ranking-line"),
        ("**Ranking:** C > B > A", [["C"], ["B"], ["A"]], "ranking-line"),
        ("Sure!\nRanking: B, A\nC is weak.", [["B"], ["A"], ["C"]], "ranking-line"),
        ("B > A > C", [["B"], ["A"], ["C"]], "letter-line"),
        ("B, A, C.", [["B"], ["A"], ["C"]], "letter-line"),
        ("Let me think.\nC then A then B", [["C"], ["A"], ["B"]], "letter-line"),
        ("C", [["C"], ["A", "B"]], "letter-line"),
        ("I think B is best, then A", [["B"], ["A"], ["C"]], "letters-in-text"),
        ("A good answer is C", [["C"], ["A", "B"]], "letters-in-text"),
    ],
)
def test_parse_ranking_shapes(reply, ranking, method):
    parsed = parse_ranking(reply, ABC)
    assert parsed.ranking == ranking
    assert parsed.method == method
    assert not parsed.abstained


def test_parse_ranking_notes_every_fallback():
    parsed = parse_ranking("I think B is best, then A", ABC)
    assert any("no ranking line" in n for n in parsed.notes)
    assert any("unranked C" in n for n in parsed.notes)
    assert any("lower-case" in n for n in parse_ranking("ranking: c, a", ABC).notes)
    assert parse_ranking("Ranking: B, A, C", ABC).notes == []


@pytest.mark.parametrize("reply", ["", "   ", "I cannot decide.", "all of them are fine", "Ranking: none"])
def test_parse_ranking_abstains(reply):
    parsed = parse_ranking(reply, ABC)
    assert parsed.abstained
    assert parsed.ranking == []
    assert parsed.method == "abstain"
    assert parsed.notes


def test_parse_ranking_repeated_labels_keep_first_mention():
    parsed = parse_ranking("Ranking: B, B, A, B", ABC)
    assert parsed.ranking == [["B"], ["A"], ["C"]]
    assert any("repeated" in n for n in parsed.notes)


def test_parse_ranking_ignores_labels_not_on_the_ballot():
    parsed = parse_ranking("Ranking: D, B, E", ABC)
    assert parsed.ranking == [["B"], ["A", "C"]]


def test_parse_ranking_prose_in_a_ranking_line_does_not_read_lowercase_words():
    # only a line of bare lower-case labels is read case-insensitively
    assert parse_ranking("ranking: it is a close call", ABC).abstained


# -- aggregation: hand-computed profiles ---------------------------------------------------------------------------
CANDS = ["x", "y", "z"]
PROFILE = [
    Ballot.of("v1", ["x", "y", "z"]),
    Ballot.of("v2", ["y", "x", "z"]),
    Ballot.of("v3", ["x", "z", "y"]),
]


def test_plurality_by_hand():
    assert plurality(PROFILE, CANDS) == {"x": 2.0, "y": 1.0, "z": 0.0}
    result = aggregate(PROFILE, CANDS, "plurality")
    assert result.winner == "x" and result.tie_break is None and result.tied_winners == []
    assert result.ranking == [["x"], ["y"], ["z"]]


def test_borda_by_hand():
    assert borda(PROFILE, CANDS) == {"x": 5.0, "y": 3.0, "z": 1.0}
    result = aggregate(PROFILE, CANDS, "borda")
    assert result.winner == "x"
    assert result.winners == ["x"]


def test_borda_and_plurality_can_disagree():
    # 3 voters a > b > c, 2 voters c > b > a, 2 voters b > c > a
    ballots = [Ballot.of(f"p{i}", ["a", "b", "c"]) for i in range(3)]
    ballots += [Ballot.of(f"q{i}", ["c", "b", "a"]) for i in range(2)]
    ballots += [Ballot.of(f"r{i}", ["b", "c", "a"]) for i in range(2)]
    cands = ["a", "b", "c"]
    # plurality: a 3, b 2, c 2
    assert plurality(ballots, cands) == {"a": 3.0, "b": 2.0, "c": 2.0}
    assert aggregate(ballots, cands, "plurality").winner == "a"
    # borda: a 3*2 = 6, b 3*1 + 2*1 + 2*2 = 9, c 2*2 + 2*1 = 6
    assert borda(ballots, cands) == {"a": 6.0, "b": 9.0, "c": 6.0}
    assert aggregate(ballots, cands, "borda").winner == "b"


def test_tied_tiers_within_a_ballot():
    tied = [Ballot.of("v", [["x", "y"], "z"])]
    assert borda(tied, CANDS) == {"x": 1.5, "y": 1.5, "z": 0.0}
    assert plurality(tied, CANDS) == {"x": 0.5, "y": 0.5, "z": 0.0}


def test_partial_ballot_ties_the_rest_last():
    assert borda([Ballot.of("v", ["y"])], CANDS) == {"y": 2.0, "x": 0.5, "z": 0.5}


def test_tie_for_first_is_broken_by_seed_and_recorded():
    ballots = [Ballot.of("v1", ["x", "y", "z"]), Ballot.of("v2", ["y", "x", "z"])]
    winners = set()
    for seed in range(40):
        r1 = aggregate(ballots, CANDS, "borda", seed=seed)
        r2 = aggregate(ballots, CANDS, "borda", seed=seed)
        assert r1.winner == r2.winner  # deterministic per seed
        assert r1.tied_winners == ["x", "y"]
        assert r1.ranking[0] == ["x", "y"]
        assert r1.tie_break and str(seed) in r1.tie_break and r1.winner in r1.tie_break
        assert "2-way tie" in r1.tie_break
        winners.add(r1.winner)
    assert winners == {"x", "y"}  # the draw is not fixed to one candidate


def test_tie_break_does_not_depend_on_candidate_order():
    ballots = [Ballot.of("v1", ["x", "y", "z"]), Ballot.of("v2", ["y", "x", "z"])]
    for seed in range(10):
        assert (
            aggregate(ballots, CANDS, seed=seed).winner
            == aggregate(ballots, list(reversed(CANDS)), seed=seed).winner
        )


WEIGHTED = [
    Ballot.of("big", ["x", "y", "z"], weight=4.0),
    Ballot.of("s1", ["y", "x", "z"]),
    Ballot.of("s2", ["y", "z", "x"]),
]


def test_weighted_vs_unweighted():
    # unweighted: plurality y 2, x 1; borda x 2+1+0 = 3, y 1+2+2 = 5, z 0+0+1 = 1
    assert aggregate(WEIGHTED, CANDS, "plurality").scores == {"x": 1.0, "y": 2.0, "z": 0.0}
    assert aggregate(WEIGHTED, CANDS, "borda").scores == {"x": 3.0, "y": 5.0, "z": 1.0}
    assert aggregate(WEIGHTED, CANDS, "borda").winner == "y"
    # weighted: plurality x 4, y 2; borda x 8+1 = 9, y 4+2+2 = 8, z 1
    assert aggregate(WEIGHTED, CANDS, "plurality", weighted=True).scores == {"x": 4.0, "y": 2.0, "z": 0.0}
    assert aggregate(WEIGHTED, CANDS, "borda", weighted=True).scores == {"x": 9.0, "y": 8.0, "z": 1.0}
    assert aggregate(WEIGHTED, CANDS, "borda", weighted=True).winner == "x"


def test_abstentions_are_ignored():
    with_abstentions = PROFILE + [Ballot.of("quiet", []), Ballot.of("silent", [[]])]
    for rule in ("plurality", "borda"):
        assert aggregate(with_abstentions, CANDS, rule).scores == aggregate(PROFILE, CANDS, rule).scores


def test_only_abstentions_give_no_winner():
    result = aggregate([Ballot.of("quiet", [])], CANDS, "borda")
    assert result.winner is None
    assert result.tie_break is None
    assert set(result.scores.values()) == {0.0}


def test_unknown_rule():
    with pytest.raises(ConfigError) as info:
        aggregate(PROFILE, CANDS, "condorcet-magic")
    assert "condorcet-magic" in str(info.value)
    assert "borda" in str(info.value) and "plurality" in str(info.value)


def test_register_rule():
    @register_rule("last-place", "test rule: most last places wins")
    def last_place(ballots, candidates):
        scores = {c: 0.0 for c in candidates}
        for b in ballots:
            scores[b.ranking[-1][0]] += b.weight
        return scores

    try:
        assert "last-place" in RULES
        assert aggregate(PROFILE, CANDS, "last-place").winner == "z"
    finally:
        del RULES["last-place"]


def test_rank_scores_groups_equal_scores():
    assert rank_scores({"b": 1.0, "a": 1.0, "c": 3.0}) == [["c"], ["a", "b"]]
    assert rank_scores({}) == []


# -- properties ----------------------------------------------------------------------------------------------------
@st.composite
def profiles(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    candidates = [f"c{i}" for i in range(n)]
    ballots = []
    for i in range(draw(st.integers(min_value=0, max_value=8))):
        order = draw(st.permutations(candidates))
        keep = draw(st.integers(min_value=0, max_value=n))  # 0: abstention; < n: a partial ballot
        cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=max(keep - 1, 1)), max_size=3)))
        tiers, start = [], 0
        for cut in [c for c in cuts if c < keep] + [keep]:
            if cut > start:
                tiers.append(list(order[start:cut]))
                start = cut
        weight = draw(st.floats(min_value=0.1, max_value=10, allow_nan=False))
        ballots.append(Ballot.of(f"v{i}", tiers, weight))
    return candidates, ballots


@settings(max_examples=150, deadline=None, database=None)
@given(profiles())
def test_score_totals(profile):
    candidates, ballots = profile
    n = len(candidates)
    voted = sum(1 for b in ballots if b.ranking)
    b_scores = aggregate(ballots, candidates, "borda").scores
    p_scores = aggregate(ballots, candidates, "plurality").scores
    assert set(b_scores) == set(candidates) == set(p_scores)
    assert sum(b_scores.values()) == pytest.approx(n * (n - 1) / 2 * voted)
    assert sum(p_scores.values()) == pytest.approx(voted)
    assert all(s >= 0 for s in b_scores.values())
    # weighted totals scale with the weights of the ballots that voted
    total_weight = sum(b.weight for b in ballots if b.ranking)
    w_borda = aggregate(ballots, candidates, "borda", weighted=True).scores
    w_plurality = aggregate(ballots, candidates, "plurality", weighted=True).scores
    assert sum(w_borda.values()) == pytest.approx(n * (n - 1) / 2 * total_weight)
    assert sum(w_plurality.values()) == pytest.approx(total_weight)


@settings(max_examples=100, deadline=None, database=None)
@given(profiles(), st.integers(min_value=0, max_value=2**31 - 1))
def test_winner_is_a_top_scorer_and_deterministic(profile, seed):
    candidates, ballots = profile
    for rule in ("plurality", "borda"):
        result = aggregate(ballots, candidates, rule, seed=seed)
        again = aggregate(ballots, candidates, rule, seed=seed)
        assert result.winner == again.winner
        if not any(b.ranking for b in ballots):
            assert result.winner is None
            continue
        best = max(result.scores.values())
        assert result.scores[result.winner] == pytest.approx(best)
        assert sorted(c for tier in result.ranking for c in tier) == sorted(candidates)
        assert (result.tie_break is None) == (len(result.ranking[0]) == 1)


def test_margin_is_the_winners_lead_under_the_rule():
    from agora import Ballot, aggregate

    ballots = [
        Ballot.of("a", ["X", "Y", "Z"]),
        Ballot.of("b", ["X", "Z", "Y"]),
        Ballot.of("c", ["Y", "X", "Z"]),
    ]
    borda = aggregate(ballots, ["X", "Y", "Z"], "borda")
    assert borda.scores == {"X": 5.0, "Y": 3.0, "Z": 1.0} and borda.margin == 2.0
    tie = aggregate(ballots[:1] + [Ballot.of("d", ["Y", "X", "Z"])], ["X", "Y", "Z"], "plurality")
    assert tie.margin == 0.0
    assert aggregate([Ballot.of("a", ["X"])], ["X"], "plurality").margin is None

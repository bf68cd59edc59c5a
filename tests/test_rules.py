"""Hand-computed outcomes of the rules, cardinal ballots, ballot files and `agora aggregate`."""

from __future__ import annotations

import json
import random
import time

import pytest

from agora import Ballot, ConfigError, aggregate
from agora.aggregation import ballot_file
from agora.aggregation.ballot import approvals, utilities
from agora.aggregation.ballot_file import MAX_CANDIDATES, MAX_RANKING_LENGTH, load_ballots
from agora.aggregation.rules import KEMENY_MAX_CANDIDATES
from agora.cli import main

ABC = ["A", "B", "C"]
# A Condorcet cycle: A beats B, B beats C, C beats A, by different margins.
CYCLE = [
    Ballot.of("x", ["A", "B", "C"], 4),
    Ballot.of("y", ["B", "C", "A"], 3),
    Ballot.of("z", ["C", "A", "B"], 2),
]


def winners(ballots, rule, candidates=ABC):
    return aggregate(ballots, candidates, rule, weighted=True).winners


def test_cycle_is_resolved_by_the_strongest_margins():
    # margins: A>B 6-3 (+3), B>C 7-2 (+5), C>A 5-4 (+1): the weakest defeat (C over A) is dropped
    for rule in ("schulze", "ranked_pairs", "kemeny_young", "minimax"):
        assert winners(CYCLE, rule) == ["A"], rule
    assert sorted(winners(CYCLE, "copeland")) == ["A", "B", "C"]  # one win each: a visible three-way tie


def test_instant_runoff_eliminates_the_fewest_first_choices():
    # firsts: A 4, B 3, C 2 -> C out; C's 2 go to A -> A 6 of 9
    result = aggregate(CYCLE, ABC, "instant_runoff", weighted=True)
    assert result.winners == ["A"]
    assert result.ranking[-1] == ["C"]


def test_cardinal_rules_use_the_ballots_utilities():
    ballots = [
        Ballot.of("rich", utilities={"A": 0.9, "B": 0.6, "C": 0.0001}),
        Ballot.of("poor", utilities={"A": 0.05, "B": 0.5, "C": 0.99}),
    ]
    assert ballots[0].ranking == (("A",), ("B",), ("C",))  # the ranking follows the utilities
    assert aggregate(ballots, ABC, "score").scores == pytest.approx({"A": 0.95, "B": 1.1, "C": 0.9901})
    assert winners(ballots, "score") == ["B"]
    assert winners(ballots, "maximin") == ["B"]  # B's worst-off voter gets 0.5
    assert winners(ballots, "nash") == ["B"]  # 0.6 * 0.5 beats 0.9 * 0.05 and 0.0001 * 0.99
    assert sorted(winners(ballots, "approval")) == ["A", "B", "C"]  # each approves what is above its mean


def test_ranking_only_ballots_get_borda_utilities_and_first_tier_approval():
    ballot = Ballot.of("v", ["B", ["A", "C"]])
    assert utilities(ballot, ABC) == {"B": 1.0, "A": pytest.approx(0.5), "C": pytest.approx(0.5)}
    assert approvals(ballot, ABC) == {"B"}
    assert approvals(Ballot.of("w", approved=["A", "C"]), ABC) == {"A", "C"}


def test_nash_refuses_non_positive_utilities_naming_the_voter():
    with pytest.raises(ConfigError, match="'zed'"):
        aggregate([Ballot.of("zed", utilities={"A": 0.0, "B": 1.0, "C": 0.5})], ABC, "nash")


def test_kemeny_young_limits_its_exact_search():
    many = [f"c{i}" for i in range(KEMENY_MAX_CANDIDATES + 1)]
    with pytest.raises(ConfigError, match="kemeny_young"):
        aggregate([Ballot.of("v", many)], many, "kemeny_young")


# -- ballot files and the command ----------------------------------------------------------------------------------
FILE = {
    "ballots": [
        {"voter": "alice", "ranking": ["A", ["B", "C"]]},
        {"voter": "bob", "ranking": ["B", "A", "C"], "weight": 2},
        {"voter": "carol", "utilities": {"A": 0.2, "B": 0.5, "C": 0.3}},
        {"voter": "dan", "approved": ["B", "C"]},
    ]
}


def write(tmp_path, data, name="ballots.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_ballot_file_loads_every_kind_of_ballot(tmp_path):
    candidates, ballots = load_ballots(write(tmp_path, FILE))
    assert candidates == ABC
    assert [b.voter for b in ballots] == ["alice", "bob", "carol", "dan"]
    assert ballots[1].weight == 2
    assert ballots[2].ranking == (("B",), ("C",), ("A",))
    assert ballots[3].approved == ("B", "C")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("{not json", "syntax error at line 1"),
        ({"ballots": []}, "ballots"),
        ({"ballots": [{"voter": "a"}]}, "ranking, utilities or approved"),
        ({"ballots": [{"voter": "a", "ranking": ["A"], "weight": -1}]}, "ballots.0.weight"),
        ({"ballots": [{"voter": "a", "ranking": ["A"], "colour": "red"}]}, "unknown field"),
        ({"ballots": [{"voter": "a", "ranking": ["A", "A"]}]}, "twice"),
        ({"candidates": ["A"], "ballots": [{"voter": "a", "ranking": ["B"]}]}, "not a candidate"),
        (
            {"ballots": [{"voter": "a", "ranking": ["A"]}, {"voter": "a", "ranking": ["B"]}]},
            "more than one ballot",
        ),
        (
            {"candidates": ["A", "B"], "ballots": [{"voter": "a", "utilities": {"A": 1}}]},
            "no utility for 'B'",
        ),
    ],
)
def test_bad_ballot_files_name_the_file_and_field(tmp_path, data, expected):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_ballots(path)
    assert expected in str(info.value)
    assert "ballots.json" in str(info.value)


def test_aggregate_command_prints_the_outcome_and_json(tmp_path, capsys):
    path = write(tmp_path, FILE)
    assert main(["aggregate", str(path), "--rule", "borda"]) == 0
    out = capsys.readouterr().out
    assert "borda: B" in out and "4 ballots, 3 candidates, weighted" in out
    assert main(["aggregate", str(path), "--rule", "schulze", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rule"] == "schulze" and payload["winner"] == "B"
    assert payload["ranking"] == [["B"], ["A"], ["C"]]
    assert main(["aggregate", str(path), "--rule", "all", "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert {r["rule"] for r in everything} >= {"plurality", "borda", "schulze", "kemeny_young", "nash"}


def test_aggregate_command_refuses_unknown_rules_and_bad_files(tmp_path, capsys):
    path = write(tmp_path, FILE)
    assert main(["aggregate", str(path), "--rule", "nope"]) == 2
    assert "unknown aggregation rule 'nope'" in capsys.readouterr().err
    assert main(["aggregate", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_unweighted_counts_every_ballot_once(tmp_path, capsys):
    path = write(tmp_path, FILE)
    assert main(["aggregate", str(path), "--rule", "plurality", "--unweighted", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scores"]["B"] == pytest.approx(2.5)


# -- size limits of ballot files ------------------------------------------------------------------------------------
MANY = [f"c{i}" for i in range(10_000)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"ballots": [{"voter": "a", "ranking": MANY}]},
            "field 'ballots.0.ranking': Value error, 10,000 candidates in one ballot, more than agora aggregates "
            f"(at most {MAX_RANKING_LENGTH})",
        ),
        (
            {"ballots": [{"voter": "a", "utilities": dict.fromkeys(MANY[:150], 0.5)}]},
            "150 candidates in one ballot",
        ),
        (
            {"candidates": MANY, "ballots": [{"voter": "a", "ranking": ["c1"]}]},
            f"field 'candidates': Value error, 10,000 candidates, more than agora aggregates (at most {MAX_CANDIDATES})",
        ),
        (  # no ballot is too long, but together they name too many candidates
            {"ballots": [{"voter": f"v{i}", "approved": [c]} for i, c in enumerate(MANY[:150])]},
            f"field 'candidates': 150 candidates, more than agora aggregates (at most {MAX_CANDIDATES})",
        ),
    ],
)
def test_ballot_files_beyond_the_size_limits_are_refused_in_one_line(tmp_path, capsys, data, expected):
    path = write(tmp_path, data)
    assert main(["aggregate", str(path), "--rule", "all"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and expected in err


def test_too_many_ballots_are_refused_before_they_are_read(tmp_path, capsys, monkeypatch):
    # MAX_BALLOTS (100,000) is more than a ballot file of 1,000,000 bytes can hold: lowered here to see it apply
    monkeypatch.setattr(ballot_file, "MAX_BALLOTS", 3)
    path = write(tmp_path, {"ballots": [{"voter": f"v{i}", "ranking": ["A"]} for i in range(4)]})
    assert main(["aggregate", str(path)]) == 2
    assert (
        "field 'ballots': Value error, 4 ballots, more than agora aggregates (at most 3)"
        in capsys.readouterr().err
    )


def test_a_ballot_file_over_a_megabyte_is_refused(tmp_path, capsys):
    path = write(tmp_path, {"ballots": [{"voter": f"v{i}", "ranking": MANY[:100]} for i in range(2000)]})
    assert main(["aggregate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"ballot file is {path.stat().st_size:,} bytes, larger than the 1,000,000 allowed" in err


def test_a_json_ballot_file_with_a_repeated_key_names_its_lines(tmp_path):
    path = write(tmp_path, '{"ballots": [{"voter": "a", "ranking": ["A"]}],\n "ballots": []}')
    with pytest.raises(ConfigError, match=r"key 'ballots' appears twice \(lines 1 and 2\)"):
        load_ballots(path)


def test_a_ballot_file_near_the_limits_loads_and_aggregates_in_seconds(tmp_path, capsys):
    rng = random.Random(3)
    names = [f"c{i}" for i in range(100)]
    data = {"ballots": [{"voter": f"v{i}", "ranking": rng.sample(names, 100)} for i in range(1300)]}
    path = tmp_path / "large.json"
    path.write_text(json.dumps(data))
    assert path.stat().st_size > 900_000  # near the 1,000,000-byte limit of a ballot file
    start = time.perf_counter()
    assert main(["aggregate", str(path), "--rule", "all", "--json"]) == 0
    assert (
        time.perf_counter() - start < 20.0
    )  # every rule (Kemeny-Young refuses 100 candidates), a few seconds
    assert {r["ballots"] for r in json.loads(capsys.readouterr().out)} == {1300}

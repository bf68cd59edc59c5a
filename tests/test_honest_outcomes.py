"""An outcome says how much it can be trusted: unreadable ballots and copies of the option list are abstentions,
too few valid ballots name no winner, and every winner comes with its robustness."""

from __future__ import annotations

import re

import pytest
from conftest import CANDIDATE_LINE, make_persona, make_reply

from agora import Ballot, Debate, ScriptedBackend, aggregate, load_protocol
from agora.aggregation.parse import parse_approval, parse_ranking, restated_options
from agora.aggregation.robustness import condorcet, flip, leave_one_out, robustness
from agora.views.html import outcome_html
from agora.views.terminal import render_outcome

NAMES = ["alpha", "bravo", "charlie", "delta"]
QUESTION = "Should public transport be free?"


def echoing(request):
    """Replies normally, but as a voter copies the option list until its token limit, as small models do."""
    if request.phase != "vote":
        return make_reply()(request)
    lines = [f"{label}. {text}" for label, text in CANDIDATE_LINE.findall(request.messages[-1].content)]
    return "\n".join(lines)[:130]  # two options and a cut-off third


def one_round():
    """One round of the shipped debate, every answer its own candidate (the scripted answers are near-duplicates)."""
    protocol = load_protocol("debate")
    aggregation = dict(protocol.spec.aggregation.model_dump(), merge=False)
    return protocol.with_overrides(rounds=1, aggregation=aggregation)


def test_a_debate_whose_every_ballot_echoes_the_options_names_no_winner():
    t = Debate([make_persona(n) for n in NAMES], one_round(), backend=ScriptedBackend(echoing)).run_sync(
        QUESTION
    )
    outcome = t.transcript.outcome
    assert t.transcript.status == "completed"
    assert all(b.parse == "echo" and not b.ranking for b in t.transcript.ballots)
    assert outcome.winner is None and outcome.voters == 0 and outcome.cast == 4
    assert sorted(outcome.abstained) == NAMES
    assert all("restates options" in reason for reason in outcome.abstained.values())
    assert outcome.no_winner.startswith("only 0 of 4 ballots are valid, below the protocol's quorum of 50%")
    text = "\n".join(render_outcome(outcome))
    assert "0 of 4 ballots valid" in text and "No winner: only 0 of 4" in text and "Winner:" not in text
    assert "No winner</strong>: only 0 of 4" in outcome_html(outcome)


def test_a_few_echoes_abstain_and_the_readable_ballots_decide():
    def reply(request):
        return echoing(request) if request.agent == "delta" else make_reply()(request)

    t = Debate([make_persona(n) for n in NAMES], one_round(), backend=ScriptedBackend(reply)).run_sync(
        QUESTION
    )
    outcome = t.transcript.outcome
    assert outcome.winner is not None and (outcome.voters, outcome.cast) == (3, 4)
    assert list(outcome.abstained) == ["delta"] and "delta" not in outcome.dissenters
    assert outcome.robustness["rules"]["agree"]  # a winner comes with its robustness
    assert "3 of 4 ballots valid" in "\n".join(render_outcome(outcome))


@pytest.mark.parametrize(
    ("reply", "read"),
    [
        ("A. No.\nB. Public transport should not be free.\nC", None),  # the artefact that used to elect C
        ("A. No. B. Public transport should not be free. C", None),
        ("Ranking: B, A, C\nA. No.\nB. Public transport should not be free.", [["B"], ["A"], ["C"]]),
        ("B is the best answer, then A.", [["B"], ["A"], ["C"]]),
        ("B) protects the poor. A) does not.", [["B"], ["A"], ["C"]]),  # labels, but not the options' words
    ],
)
def test_restating_the_options_is_told_from_choosing(reply, read):
    options = {"A": "No.", "B": "Public transport should not be free.", "C": "Yes, make it free."}
    parsed = parse_ranking(reply, list(options), options)
    if read is None:
        assert parsed.ranking == [] and parsed.method == "echo" and "restates options A, B" in parsed.notes[0]
    else:
        assert parsed.ranking == read


def test_approval_ballots_that_restate_the_options_abstain_too():
    options = {"A": "No.", "B": "Public transport should not be free."}
    assert parse_approval("A. No.\nB. Public transport", list(options), options).method == "echo"
    assert parse_approval("Approve: A\nA. No.\nB. Public transport", list(options), options).ranking == [
        ["A"],
        ["B"],
    ]
    assert restated_options("A. No.\nB. Something else entirely", list(options), options) == ["A"]


# -- robustness on textbook profiles -----------------------------------------------------------------------------
CANDS = ["X", "Y", "Z"]


def profile(*rankings: str) -> list[Ballot]:
    return [Ballot.of(f"v{i}", list(r)) for i, r in enumerate(rankings)]


def test_a_condorcet_cycle_is_reported_and_its_seeded_winner_is_already_a_tie():
    ballots = profile("XYZ", "YZX", "ZXY")
    assert condorcet(ballots, CANDS) == (None, True)
    result = aggregate(ballots, CANDS, "borda")
    report = robustness(ballots, CANDS, "borda", result.winner, result.ranking, weighted=False, seed=0)
    assert report["condorcet_winner"] is None and report["majority_cycle"] is True
    assert report["flip"] == {"ballots": 0, "to": None, "exact": True}
    assert report["rules"]["agree"] == []


def test_the_fewest_ballots_that_flip_a_result_and_the_pivotal_voters():
    ballots = profile("XYZ", "XZY", "YZX", "ZYX", "XYZ")  # Borda: X 6, Y 5, Z 4
    assert condorcet(ballots, CANDS) == ("X", False)
    assert flip(ballots, CANDS, "borda", "X", ["Y", "Z"], weighted=False, seed=0) == {
        "ballots": 1,
        "to": "Y",
        "exact": True,
    }
    assert leave_one_out(ballots, CANDS, "borda", "X", weighted=False, seed=0) == {
        "survives": False,
        "pivotal": ["v1"],
    }
    landslide = profile("XYZ", "XYZ", "XZY", "XZY", "XYZ", "YXZ")
    report = flip(landslide, CANDS, "plurality", "X", ["Y", "Z"], weighted=False, seed=0)
    assert report["ballots"] == 2 and report["to"] == "Y"  # 5-1: two changed ballots make it 3-3
    assert leave_one_out(landslide, CANDS, "plurality", "X", weighted=False, seed=0)["survives"]


def test_the_greedy_flip_search_beyond_the_exact_size_is_marked_as_a_bound():
    ballots = profile(*(["XYZ"] * 7 + ["YXZ"] * 5))
    report = flip(ballots, CANDS, "plurality", "X", ["Y"], weighted=False, seed=0)
    assert report == {"ballots": 1, "to": "Y", "exact": False}  # 7-5: one ballot makes it 6-6


def test_the_terminal_view_states_the_robustness():
    ballots = profile("XYZ", "XZY", "YZX", "ZYX", "XYZ")
    result = aggregate(ballots, CANDS, "borda")
    report = robustness(ballots, CANDS, "borda", result.winner, result.ranking, weighted=False, seed=0)
    from agora.views.terminal import robustness_text

    line = robustness_text(report)
    assert line.startswith("Robustness: Condorcet winner X")
    assert re.search(r"\d+ of 12 rules agree", line)
    assert "1 changed ballot elect Y" in line and "leaving out v1 changes the winner" in line


# -- scored ballots: the position of an option in the prompt does not count ------------------------------------
def position_biased_scorer(request):
    """Prefers whichever answer the prompt lists first (and no answer otherwise): pure position bias."""
    listed = [text for _, text in CANDIDATE_LINE.findall(request.messages[-1].content)]
    return [0.0 if listed and text == listed[0] else -2.0 for text in request.continuations]


def listing_scored_protocol():
    """One round of the shipped debate whose scored vote prompt lists the options (debate/vote.j2)."""
    protocol = load_protocol("debate")
    phases = [
        dict(p.model_dump(), ballot="scored") if p.kind == "vote" else p.model_dump()
        for p in protocol.spec.phases
    ]
    aggregation = dict(protocol.spec.aggregation.model_dump(), merge=False, rule="score")
    return protocol.with_overrides(rounds=1, phases=phases, aggregation=aggregation)


@pytest.mark.parametrize("voters", [3, 8])
def test_scored_ballots_average_out_the_position_of_each_option(voters):
    names = [f"v{i}" for i in range(voters)]
    backend = ScriptedBackend(make_reply(), scorer=position_biased_scorer)
    t = Debate([make_persona(n) for n in names], listing_scored_protocol(), backend=backend, seed=1).run_sync(
        QUESTION
    )
    for ballot in t.transcript.ballots:
        spread = max(ballot.utilities.values()) - min(ballot.utilities.values())
        if (
            voters <= 6
        ):  # every rotation: each option first exactly once, so position alone cannot separate them
            assert spread == pytest.approx(0.0, abs=1e-6) and ballot.notes == [
                f"mean over {voters} orders of the options shown"
            ]
        else:  # the order and its reverse: the first and the last option shown share the advantage equally
            assert ballot.notes == ["mean over 2 orders of the options shown"]
            shown = list(ballot.labels.values())
            assert ballot.utilities[shown[0]] == pytest.approx(ballot.utilities[shown[-1]])
            assert ballot.utilities[shown[0]] > ballot.utilities[shown[1]]
    assert len(backend.score_requests) == voters * (voters if voters <= 6 else 2)

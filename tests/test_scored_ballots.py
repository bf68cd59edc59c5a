"""Scored ballots (each voter's model scores every candidate answer), dissent and the value-conflict report."""

from __future__ import annotations

import math

import pytest
from conftest import make_persona

import agora
from agora.aggregation.dissent import dissent, value_conflict, value_profile
from agora.views.terminal import render

NAMES = ["alpha", "bravo", "charlie"]
VALUES = {
    "alpha": {"fairness": 0.8, "liberty": 0.2},
    "bravo": {"fairness": 0.7, "liberty": 0.3},
    "charlie": {"liberty": 0.9, "fairness": 0.1},
}


def scored_protocol():
    return agora.load_protocol("debate_scored").with_overrides(rounds=1)


def scorer_preferring(prefs):
    """A scorer under which voter v gives its favourite candidate answer the highest log-likelihood."""

    def score(request):
        favourite = prefs[request.agent]
        return [-1.0 if f"TOKEN-{favourite}-" in c else -3.0 for c in request.continuations]

    return score


def run(prefs, **scorer_kwargs):
    personas = [make_persona(n, values=VALUES[n]) for n in NAMES]
    backend = agora.ScriptedBackend(
        lambda r: f"Answer: TOKEN-{r.agent}-{r.phase} thinks X.",
        scorer=scorer_kwargs.get("scorer") or scorer_preferring(prefs),
    )
    return agora.Debate(personas, scored_protocol(), backend=backend).run_sync("Q?"), backend


def test_every_voter_gives_every_candidate_a_utility():
    result, backend = run({"alpha": "alpha", "bravo": "alpha", "charlie": "charlie"})
    ballots = result.transcript.ballots
    assert [b.parse for b in ballots] == ["scored"] * 3
    for b in ballots:
        assert set(b.utilities) == set(NAMES) and math.isclose(sum(b.utilities.values()), 1.0, abs_tol=1e-5)
        assert set(b.logprobs) == set(NAMES)
    # the voter's model was asked about every candidate answer, as the reply to its own persona's prompt
    assert len(backend.score_requests) == 3 and all(len(r.continuations) == 3 for r in backend.score_requests)
    outcome = result.outcome
    assert outcome.rule == "score" and outcome.winner == "alpha"
    assert set(outcome.scores) >= {"score", "borda", "schulze", "maximin", "nash"}
    assert outcome.dissenters == ["charlie"]
    (d,) = outcome.dissent
    assert d["agent"] == "charlie" and d["first_choice"] == "charlie" and d["shortfall"] > 0
    conflict = outcome.value_conflict
    assert conflict["supporters"] == ["alpha", "bravo"] and conflict["opposition"] == ["charlie"]
    assert conflict["pulled_apart"] == ["fairness", "liberty"]
    text = render(result.transcript)
    assert "scored by its model" in text and "Pulled apart: fairness" in text


def test_a_voter_whose_scoring_fails_is_recorded_and_the_vote_goes_on():
    def scorer(request):
        if request.agent == "bravo":
            raise RuntimeError("scoring broke")
        return [-1.0] * len(request.continuations)

    result, _ = run({}, scorer=scorer)
    failed = [b for b in result.transcript.ballots if b.error]
    assert [b.agent for b in failed] == ["bravo"] and "scoring broke" in failed[0].error
    assert result.outcome.voters == 2


def test_a_backend_that_cannot_score_fails_its_ballots_clearly():
    personas = [make_persona(n) for n in NAMES]
    backend = agora.ScriptedBackend(lambda r: f"Answer: TOKEN-{r.agent}-x.")  # no scorer
    outcome = agora.Debate(personas, scored_protocol(), backend=backend).run_sync("Q?").transcript.outcome
    assert outcome.winner is None and outcome.voters == 0 and outcome.cast == len(NAMES)
    assert "below the protocol's quorum" in outcome.no_winner
    assert all("ScoringUnsupported" in reason for reason in outcome.abstained.values())


# -- the report functions on hand-built ballots --------------------------------------------------------------------
def test_dissent_shortfall_is_the_score_gap_under_the_rule():
    ballots = [
        agora.Ballot.of("a", ["X", "Y"]),
        agora.Ballot.of("b", ["Y", "X"]),
        agora.Ballot.of("c", [["X", "Y"]]),
    ]
    assert dissent(ballots, "X", {"X": 5.0, "Y": 3.5}) == [
        {"agent": "b", "first_choice": "Y", "shortfall": 1.5}
    ]
    assert dissent(ballots, None, {}) == []


def test_value_profiles_and_split():
    assert value_profile(["alpha", "bravo"], VALUES) == {"fairness": 0.75, "liberty": 0.25}
    ballots = [agora.Ballot.of(n, ["alpha" if n != "charlie" else "charlie"]) for n in NAMES]
    report = value_conflict(ballots, "alpha", VALUES)
    assert report["split"] == {"fairness": pytest.approx(0.65), "liberty": pytest.approx(-0.65)}
    assert report["pulled_apart"] == ["fairness", "liberty"]
    unanimous = value_conflict([agora.Ballot.of("alpha", ["alpha"])], "alpha", VALUES)
    assert unanimous["opposition"] == [] and unanimous["pulled_apart"] is None

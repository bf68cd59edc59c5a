"""Value-weighted aggregation: the relevance measure, the weights it gives, and the outcome it changes."""

from __future__ import annotations

import math

import pytest
from conftest import make_persona

import agora
from agora.aggregation.relevance import (
    REFERENCE_QUESTIONS,
    agent_weights,
    relevance_from_logprobs,
    relevance_requests,
)
from agora.views.terminal import render

VALUES = {
    "alpha": {"tradition": 1.0},
    "bravo": {"tradition": 0.9, "liberty": 0.1},
    "charlie": {"liberty": 1.0},
}
REFS = len(REFERENCE_QUESTIONS)


def test_relevance_is_the_softmax_of_calibrated_pmi():
    base = [-10.0] * (1 + REFS)
    # 'a' makes the question 3 nats likelier and every reference question 1 nat likelier: calibrated PMI 2
    row_a = [-7.0] + [-9.0] * REFS
    # 'b' changes nothing: calibrated PMI 0
    row_b = list(base)
    rel = relevance_from_logprobs(["a", "b"], [base, row_a, row_b])
    assert rel.calibrated_pmi == pytest.approx({"a": 2.0, "b": 0.0})
    assert rel.relevance["a"] == pytest.approx(math.exp(2) / (math.exp(2) + 1))
    assert sum(rel.relevance.values()) == pytest.approx(1.0)


def test_a_value_that_favours_every_question_gains_nothing():
    base = [-10.0] * (1 + REFS)
    biased = [-8.0] * (1 + REFS)  # +2 on the question and on every reference question alike
    rel = relevance_from_logprobs(["biased", "plain"], [base, biased, list(base)])
    assert rel.relevance["biased"] == pytest.approx(0.5)


def test_rows_must_match_the_values():
    with pytest.raises(ValueError, match="expected 3 rows"):
        relevance_from_logprobs(["a", "b"], [[0.0] * (1 + REFS)] * 2)


def test_requests_ask_plainly_then_about_each_value():
    reqs = relevance_requests("Should we?", ["public_health", "liberty"])
    asks = [r.messages[-1].content for r in reqs]
    assert asks == ["Ask a question.", "Ask a question about public health.", "Ask a question about liberty."]
    assert all(r.continuations == ("Should we?", *REFERENCE_QUESTIONS) for r in reqs)


def test_weights_follow_the_share_of_relevant_values_with_a_floor():
    stated = {"a": {"x": 1.0}, "b": {"x": 0.5, "y": 0.5}, "c": {"y": 1.0}}
    weights = agent_weights(stated, {"x": 0.8, "y": 0.2}, floor=0.1)
    # shares 0.8, 0.5, 0.2; the top share weighs 1
    assert weights == pytest.approx({"a": 1.0, "b": 0.1 + 0.9 * 0.5 / 0.8, "c": 0.1 + 0.9 * 0.2 / 0.8})
    assert agent_weights(stated, {"x": 0.8, "y": 0.2}, floor=1.0) == {"a": 1.0, "b": 1.0, "c": 1.0}
    with pytest.raises(ValueError):
        agent_weights(stated, {"x": 1.0}, floor=1.5)


def liberty_judge(request):
    """Scores as if the question were about liberty: asking about liberty makes it 4 nats likelier."""
    ask = request.messages[-1].content
    return [
        -6.0 if (ask.endswith("about liberty.") and i == 0) else -10.0
        for i in range(len(request.continuations))
    ]


def scorer(request):
    if request.agent == "relevance":
        return liberty_judge(request)
    # alpha and bravo like alpha's answer best; charlie likes its own
    favourite = "charlie" if request.agent == "charlie" else "alpha"
    return [-1.0 if f"TOKEN-{favourite}-" in c else -3.0 for c in request.continuations]


def run(by_values: bool):
    personas = [make_persona(n, values=VALUES[n]) for n in VALUES]
    backend = agora.ScriptedBackend(lambda r: f"Answer: TOKEN-{r.agent}-{r.phase} thinks X.", scorer=scorer)
    base = agora.load_protocol("debate_scored").with_overrides(rounds=1)
    agg = base.spec.aggregation.model_copy(update={"rule": "plurality", "by_values": by_values})
    protocol = base.with_overrides(aggregation=agg.model_dump())
    return agora.Debate(personas, protocol, backend=backend).run_sync("Should people be free to do this?")


def test_value_weighting_gives_the_agent_whose_values_are_at_stake_more_say():
    plain = run(by_values=False).outcome
    assert plain.winner == "alpha" and plain.weights == {} and plain.relevance == {}
    weighted = run(by_values=True).outcome
    assert weighted.relevance["liberty"] > 0.9
    assert weighted.weights["charlie"] == pytest.approx(1.0)
    assert weighted.weights["alpha"] < 0.2 and weighted.weights["alpha"] >= 0.1
    # two low-weight ballots for alpha's answer lose to one full-weight ballot for charlie's
    assert weighted.winner == "charlie" and weighted.weighted
    assert weighted.scores["plurality"]["charlie"] == pytest.approx(1.0)


def test_value_weighting_with_generated_ballots_and_a_judge_without_scoring():
    personas = [make_persona(n, values=VALUES[n]) for n in VALUES]

    def reply(r):
        if r.phase == "vote":
            return "A, B, C"
        return f"Answer: TOKEN-{r.agent}-{r.phase} thinks X."

    backend = agora.ScriptedBackend(reply)  # cannot score
    base = agora.load_protocol("debate").with_overrides(rounds=1)
    agg = base.spec.aggregation.model_copy(update={"by_values": True})
    result = agora.Debate(
        personas, base.with_overrides(aggregation=agg.model_dump()), backend=backend
    ).run_sync("Q?")
    outcome = result.outcome
    assert outcome.winner is not None and outcome.weights == {}
    assert "ScoringUnsupported" in outcome.weighting_error
    assert "Value weighting unavailable" in render(result.transcript)


def test_the_terminal_view_shows_relevance_and_weights():
    result = run(by_values=True)
    text = render(result.transcript)
    assert "value-weighted" in text and "Relevance of values: liberty" in text and "Weights:" in text

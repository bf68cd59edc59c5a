"""Merging proposals that give the same answer, and what the vote and the outcome make of merged candidates."""

from __future__ import annotations

import pytest
from conftest import make_persona

import agora
from agora.aggregation.candidates import (
    content_words,
    merge_answers,
    normalise,
    same_answer,
    similarity,
    stance,
)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Yes.", "yes", True),
        ("Yes, absolutely", "YES!", True),
        ("Yes.", "No.", False),
        ("No", "Yes, cities should ban cars", False),
        (
            "No.",
            "No, social media should not be banned for children.",
            True,
        ),  # the same side of a yes/no question
        ("No cars in the centre.", "No.", False),  # "No cars" takes no side
        ("Free text about parks.", "Yes.", False),
        ("I think cities should ban cars.", "Cities should ban cars!", True),
        (
            "Cities should ban cars from their centres.",
            "Cities should not ban cars from their centres.",
            False,
        ),
        ("Cities shouldn't ban cars.", "Cities should not ban cars.", True),
        ("Build affordable housing on the yard.", "Plant a public park on the yard.", False),
        ("Four days a week is enough.", "A four-day week is enough.", True),
        ("", "Cities should ban cars.", False),
    ],
)
def test_same_answer(a, b, same):
    assert same_answer(a, b) is same


def test_normalisation_and_words():
    assert normalise("  In my opinion: Cities SHOULD ban cars!! ") == "cities should ban cars"
    assert content_words("The cities should ban cars") == {"citie", "ban", "car"}
    assert stance("No, never.") == "no" and stance("No cars in the centre of town") is None
    assert stance("Yes - but slowly, over ten years.") == "yes"
    assert similarity("Ban cars.", "ban cars") == 1.0


def test_merging_is_greedy_in_agent_order_and_keeps_every_member():
    merged = merge_answers(
        {"a": "Yes.", "b": "Build a park.", "c": "yes!", "d": "I think we should build a park.", "e": "No."}
    )
    assert [(c.id, c.members) for c in merged] == [("a", ("a", "c")), ("b", ("b", "d")), ("e", ("e",))]
    assert merged[0].answer == "Yes."


def test_merged_answers_are_one_candidate_on_the_ballot_and_in_the_outcome():
    names = ["alpha", "bravo", "charlie"]
    answers = {"alpha": "Answer: Yes.", "bravo": "Answer: No.", "charlie": "Answer: yes"}

    def reply(request):
        if request.phase == "vote":
            return "Ranking: A, B"
        return answers[request.agent]

    backend = agora.ScriptedBackend(reply)
    protocol = agora.load_protocol("debate").with_overrides(rounds=1)
    result = agora.Debate([make_persona(n) for n in names], protocol, backend=backend).run_sync("Q?")
    outcome = result.outcome
    assert set(outcome.candidates) == {"alpha", "bravo"}
    assert outcome.members == {"alpha": ["alpha", "charlie"], "bravo": ["bravo"]}
    vote_prompts = [r.messages[-1].content for r in backend.requests if r.phase == "vote"]
    assert all("C." not in p for p in vote_prompts)  # two candidates, labelled A and B only
    for ballot in result.transcript.ballots:
        assert sorted(ballot.labels.values()) == ["alpha", "bravo"]


def test_merging_can_be_turned_off(tmp_path):
    protocol = agora.load_protocol("debate").with_overrides(
        rounds=1, aggregation={"rule": "borda", "merge": False}
    )
    backend = agora.ScriptedBackend(lambda r: "Ranking: A, B, C" if r.phase == "vote" else "Answer: Yes.")
    result = agora.Debate([make_persona(n) for n in ("a1", "b2", "c3")], protocol, backend=backend).run_sync(
        "Q?"
    )
    assert set(result.outcome.candidates) == {"a1", "b2", "c3"}


def test_exact_merging_joins_only_identical_canonical_answers():
    # similarity would join "-3" and "3" (the same words once signs are dropped); canonical answers must not
    assert len(merge_answers({"a": "-3", "b": "3"})) == 1
    merged = merge_answers({"a": "-3", "b": "3", "c": "-3", "d": "A"}, exact=True)
    assert [(c.id, c.answer, c.members) for c in merged] == [
        ("a", "-3", ("a", "c")),
        ("b", "3", ("b",)),
        ("d", "A", ("d",)),
    ]

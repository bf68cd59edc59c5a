"""Whether two answers take the same position: negation, opposite words, paraphrase, hedging, and the places that
use the rule (the vote's candidates, the consensus stop, the analysis' positions and flips)."""

from __future__ import annotations

import pytest
from analysis_helpers import message

import agora
from agora.aggregation.candidates import merge_answers
from agora.aggregation.claims import read, read_question, same_position
from agora.analysis import metrics
from agora.analysis.positions import build_positions
from agora.run.stopping import consensus

FARES = "Should public transport be free?"
CARS = "Should cities ban cars from their centres?"
LIE = "Is it acceptable to lie to a friend to protect them from harm?"
YARD = "What should the city build on the old rail yard?"
THEATRE = "Should the old theatre be closed?"
SOCIAL = "Should social media be banned for children under 16?"
PARKS = "How should a city pay for its public parks?"


@pytest.mark.parametrize(
    ("a", "b", "question"),
    [
        # a leading "No" and the claim's own "not" say no once
        ("No, public transport should not be free.", "Public transport should not be free.", FARES),
        ("No, public transport should not be free.", "Public transport should not be free.", None),
        ("No, it should not.", "No.", None),
        ("No it should not", "Public transport should not be free of charge.", FARES),
        ("Public transport shouldn't be free.", "No.", FARES),
        ("It should not.", "No", None),
        # opposite words: "ban" is "not allow"
        ("Cities should not ban cars from their centres.", "Cars should be allowed in city centres.", CARS),
        ("Cities should not ban cars.", "Cars should be allowed in cities.", None),
        ("Cities should ban cars from their centres.", "Yes.", CARS),
        ("Cars should not be allowed in city centres.", "Yes, ban them.", CARS),
        # judgement words
        ("Lying to a friend is wrong.", "No, it is not acceptable to lie to a friend.", LIE),
        (
            "Lying to a friend is not only unacceptable but also a betrayal.",
            "It is unacceptable to lie.",
            None,
        ),
        # hedging keeps the side
        ("Probably yes.", "Yes.", None),
        ("Probably not.", "No, it should not be free.", FARES),
        ("I think so, absolutely.", "Absolutely.", None),
        ("Absolutely not.", "No.", None),
        ("It depends.", "Maybe.", None),
        ("Yes, but only for students and pensioners.", "Yes.", FARES),
        # reasons do not separate positions
        ("Yes, because it cuts pollution.", "Yes, it would help people on low incomes.", FARES),
        ("Build a park on the rail yard to give children space.", "Build a park on the rail yard.", YARD),
        ("Four days a week is enough.", "A four-day week is enough.", None),
        # sides stated in other forms
        ("In the long run, yes.", "Yes.", None),
        ("A) Yes.", "Yes.", None),
        ("Sustainability: No, no, no.", "No, smoking should not be allowed in public parks.", None),
        ("The debate rages on, but the answer is a resounding no.", "No.", None),
        ("The park stays open at night.", "Yes.", "Should the park stay open at night?"),
        ("It is wise to close the old theatre.", "Yes.", THEATRE),
        # remarks about the debate that say the same
        (
            "The debate is about the impact of social media on families.",
            "The debate is about the impact of social media on families, but not about science.",
            SOCIAL,
        ),
    ],
)
def test_same_position(a, b, question):
    assert same_position(a, b, question=question)
    assert same_position(b, a, question=question)


@pytest.mark.parametrize(
    ("a", "b", "question"),
    [
        ("Public transport should be free.", "Public transport should not be free.", FARES),
        ("Public transport should be free.", "Public transport should not be free.", None),
        ("No, public transport should not be free.", "Yes, public transport should be free.", None),
        ("Yes.", "Public transport should not be free.", FARES),
        ("Cities should ban cars from their centres.", "Cities should allow cars in their centres.", CARS),
        ("Cities should ban cars from their centres.", "No.", CARS),
        ("Lying to a friend is acceptable.", "Lying to a friend is unacceptable.", LIE),
        ("Probably not.", "Probably.", None),
        ("It depends on the budget.", "Yes.", None),
        ("Maybe later", "Yes", None),
        ("No cars in the centre.", "No.", None),  # "No cars" states no side
        ("Build a park on the rail yard.", "Build housing on the rail yard.", YARD),
        ("Build a park on the yard.", "Yes.", YARD),
        ("Yes, we should build it.", "We should build a park.", None),
        ("The voting age should be lowered to 16.", "The voting age should be lowered to 18.", None),
        ("The minimum wage should be raised.", "The minimum wage should be lowered.", None),
        ("", "Yes.", None),
        # a qualification that reverses the side
        ("Yes, but you should keep the old theatre open.", "Yes.", THEATRE),
        # an argument about a course of action is no verdict on it
        ("By banning social media for children you could hinder their social life.", "Yes.", SOCIAL),
        (
            "By banning social media for children you could hinder their social life.",
            "Social media should be banned for children.",
            SOCIAL,
        ),
        # remarks about the debate take no side, and differ by what they say
        (
            "The debate is about the morality of taxation.",
            "No, governments should not tax sugary drinks.",
            None,
        ),
        ("The debate about public transport's value is a classic example of misled science.", "Yes.", FARES),
        (
            "The debate is focused on ethics, but it's not fair to the audience who care about economic growth.",
            "The debate is focused on ethics, but it's not fair to the audience who care about scientific rigour.",
            None,
        ),
        # many shared words, different positions
        (
            "The city should not ban fireworks because the economic impact is immense.",
            "The city should ban fireworks because the economic impact is immense.",
            "Should the city ban fireworks?",
        ),
        (
            "A city should pay for its public parks with a tax on luxury goods.",
            "A city should pay for its public parks with a public-private partnership.",
            PARKS,
        ),
    ],
)
def test_different_positions(a, b, question):
    assert not same_position(a, b, question=question)
    assert not same_position(b, a, question=question)


def test_same_position_is_exported_and_reads_once():
    assert agora.same_position is same_position
    assert read("No, it should not be free.") is read("No, it should not be free.")  # cached
    assert not read_question(YARD).yes_no and read_question(None) is None
    assert read_question(CARS) is not None and read_question(CARS).negated  # "ban" reads as "not allow"


def test_merging_uses_the_question():
    answers = {
        "a": "No, cities should not ban cars.",
        "b": "Cars should be allowed in city centres.",
        "c": "No.",
        "d": "Yes, ban them.",
    }
    merged = merge_answers(answers, question=CARS)
    assert [c.members for c in merged] == [("a", "b", "c"), ("d",)]


def test_exact_merging_is_unchanged():
    merged = merge_answers({"a": "No.", "b": "No, it should not.", "c": "No."}, exact=True)
    assert [c.members for c in merged] == [("a", "c"), ("b",)]


def test_consensus_stop_counts_a_change_of_wording_as_no_change():
    before = {
        "a": message(1, "propose", "a", "No, public transport should not be free."),
        "b": message(1, "propose", "b", "No."),
    }
    after = {
        "a": message(1, "revise", "a", "Public transport should not be free."),
        "b": message(1, "revise", "b", "Probably not."),
    }
    assert consensus("stable", [before, after], 2, 0.7, question=FARES) == "stable"
    assert consensus("unanimous", [before, after], 2, 0.7, question=FARES) == "unanimous"
    turned = {
        "a": message(1, "revise", "a", "Yes, it should be free."),
        "b": message(1, "revise", "b", "No."),
    }
    assert consensus("stable", [before, turned], 2, 0.7, question=FARES) is None


def test_a_change_of_wording_is_no_flip_and_no_persuasion():
    """The reported case: a reworded "no" counted as a flip (100% flip rate) and an unexplained move."""
    stages = [(1, "propose"), (1, "revise")]
    answers = {
        (1, "propose", "a"): "No, public transport should not be free.",
        (1, "revise", "a"): "Public transport should not be free.",
        (1, "propose", "b"): "Yes.",
        (1, "revise", "b"): "Probably yes, it should be free.",
    }
    pos = build_positions(["a", "b"], stages, answers, question=FARES)
    assert [dict(t) for t in pos.table] == [{"a": "P1", "b": "P2"}, {"a": "P1", "b": "P2"}]
    assert metrics.flip_rate_by_agent(pos) == {"a": 0.0, "b": 0.0}
    graph = metrics.persuasion_graph(pos, [("a", "b"), ("b", "a")])
    assert graph.nodes["a"]["unexplained"] == 0 and graph.number_of_edges() == 0
    assert metrics.consensus_curve(pos) == [0.5, 0.5]

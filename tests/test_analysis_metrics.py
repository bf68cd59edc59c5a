"""Every disagreement metric on hand-built transcripts whose correct values are worked out by hand."""

from __future__ import annotations

import math

import pytest
from analysis_helpers import ANSWERS, EDGES, debate_transcript, header, message

from agora.analysis import metrics as m
from agora.analysis.positions import build_positions, group_answers, positions
from agora.transcript import Transcript

# ANSWERS, as positions: P1 = yes, P2 = no, P3 = "maybe later" (takes no side, so it is its own position)
#   stage 0 (r1 propose): a P1, b P2, c P2, d P3
#   stage 1 (r1 revise):  a P1, b P1, c P1, d P2
#   stage 2 (r2 revise):  a P1, b P1, c P1, d P1


@pytest.fixture
def pos():
    return positions(debate_transcript())


def test_positions_group_same_answers_in_stage_order(pos):
    assert pos.labels == ["round 1 · propose", "round 1 · revise", "round 2 · revise"]
    assert [dict(t) for t in pos.table] == [
        {"a": "P1", "b": "P2", "c": "P2", "d": "P3"},
        {"a": "P1", "b": "P1", "c": "P1", "d": "P2"},
        {"a": "P1", "b": "P1", "c": "P1", "d": "P1"},
    ]
    assert dict(pos.answers) == {"P1": "Yes", "P2": "No", "P3": "Maybe later"}
    assert group_answers(["Yes", "no", "Yes.", "Maybe"]) == [0, 1, 0, 2]


def test_positions_carry_forward_and_skip_failed_turns():
    t = Transcript([header(agents=("a", "b"), edges=[("a", "b"), ("b", "a")])])
    t.append(message(1, "propose", "a", "Yes"))
    t.append(message(1, "propose", "b", "", error="timed out after 5 s"))  # b has no position yet
    t.append(message(1, "revise", "a", "", error="empty reply"))  # a keeps its proposal
    t.append(message(1, "revise", "b", "No"))
    pos = positions(t)
    assert [dict(x) for x in pos.table] == [{"a": "P1"}, {"a": "P1", "b": "P2"}]
    assert m.flips(pos) == {"a": [None, False], "b": [None, None]}


def test_answer_distribution_and_entropy(pos):
    assert m.answer_distribution(pos) == [
        {"P2": 0.5, "P1": 0.25, "P3": 0.25},
        {"P1": 0.75, "P2": 0.25},
        {"P1": 1.0},
    ]
    h = m.answer_entropy(pos)
    assert h[0] == pytest.approx(1.5)  # -(.5 log .5 + 2 * .25 log .25)
    assert h[1] == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))  # 0.811
    assert h[2] == 0.0


def test_consensus_curve_and_round(pos):
    assert m.consensus_curve(pos) == [0.5, 0.75, 1.0]
    assert m.consensus_round(pos) == 2  # unanimity first at the round-2 revision
    assert m.consensus_round(pos, threshold=0.75) == 1  # three of four agree from the round-1 revision on
    assert (
        m.consensus_round(pos, threshold=0.5) == 1
    )  # P2 led at stage 0, P1 from stage 1: the leader changed


def test_consensus_round_none_when_it_breaks_up():
    answers = dict(ANSWERS)
    answers[(2, "revise")] = {"a": "Yes", "b": "No", "c": "Yes", "d": "No"}
    pos = positions(debate_transcript(answers))
    assert m.consensus_curve(pos)[-1] == 0.5
    assert m.consensus_round(pos) is None


def test_consensus_held_from_the_start():
    same = {(1, "propose"): {"a": "Yes", "b": "Yes"}, (1, "revise"): {"a": "Yes", "b": "Yes"}}
    pos = build_positions(
        ["a", "b"], list(same), {(r, p, a): x for (r, p), d in same.items() for a, x in d.items()}
    )
    assert m.consensus_round(pos) == 1
    assert m.polarisation(pos) == [0.0, 0.0]


def test_polarisation(pos):
    # 4 * p1 * p2 of the two largest camps: .5/.25, .75/.25, 1/0
    assert m.polarisation(pos) == pytest.approx([0.5, 0.75, 0.0])
    even = build_positions(
        ["a", "b"], [(1, "propose")], {(1, "propose", "a"): "Yes", (1, "propose", "b"): "No"}
    )
    assert m.polarisation(even) == [1.0]


def test_agreement_matrix(pos):
    g = m.agreement_matrix(pos)
    assert g["a"]["b"] == pytest.approx(2 / 3)
    assert g["a"]["d"] == pytest.approx(1 / 3)
    assert g["b"]["c"] == 1.0
    assert g["c"]["d"] == pytest.approx(1 / 3)
    assert all(g[x][x] == 1.0 for x in "abcd")
    assert all(g[x][y] == g[y][x] for x in "abcd" for y in "abcd")


def test_flips_and_flip_rates(pos):
    assert m.flips(pos) == {
        "a": [None, False, False],
        "b": [None, True, False],
        "c": [None, True, False],
        "d": [None, True, True],
    }
    assert m.flip_rate_by_agent(pos) == {"a": 0.0, "b": 0.5, "c": 0.5, "d": 1.0}
    assert m.flip_rate_by_round(pos) == {1: 0.75, 2: 0.25}


def test_persuasion_graph_follows_interaction_edges(pos):
    g = m.persuasion_graph(pos, EDGES)
    weights = {(u, v): d["weight"] for u, v, d in g.edges(data=True)}
    # b -> P1 held by a (a -> b); c -> P1 held by a (a -> c); d -> P2 held by c (c -> d; b held P2 too, but d does
    # not hear b); d -> P1 held by a and c, both heard by d: half each
    assert weights == pytest.approx({("a", "b"): 1.0, ("a", "c"): 1.0, ("c", "d"): 1.5, ("a", "d"): 0.5})
    assert ("b", "d") not in weights
    assert all(g.has_edge(u, v) <= ((u, v) in EDGES) for u, v in g.edges)
    assert g["c"]["d"]["moves"] == ["round 1 · revise", "round 2 · revise"]
    assert m.influence(g) == pytest.approx({"a": 2.5, "b": 0.0, "c": 1.5, "d": 0.0})
    assert all(g.nodes[n]["unexplained"] == 0 for n in g.nodes)


def test_persuasion_without_the_edge_is_unexplained(pos):
    g = m.persuasion_graph(pos, [("b", "a")])  # nobody who moved heard anyone holding the new answer
    assert g.number_of_edges() == 0
    assert {n: g.nodes[n]["unexplained"] for n in g.nodes} == {"a": 0, "b": 1, "c": 1, "d": 2}


def test_value_conflict_map():
    camps = {"a": "P1", "b": "P1", "c": "P2"}
    values = {"a": {"x": 0.8, "y": 0.2}, "b": {"x": 0.6, "y": 0.4}, "c": {"y": 0.5, "z": 0.5}}
    vc = m.value_conflict_map(camps, values)
    assert vc["camps"] == {"P1": ["a", "b"], "P2": ["c"]}
    assert vc["profiles"]["P1"] == pytest.approx({"x": 0.7, "y": 0.3, "z": 0.0})
    assert vc["profiles"]["P2"] == pytest.approx({"x": 0.0, "y": 0.5, "z": 0.5})
    assert list(vc["spread"]) == ["x", "z", "y"]
    assert vc["spread"] == pytest.approx({"x": 0.7, "z": 0.5, "y": 0.2})
    assert vc["leads"] == {"x": "P1", "y": "P2", "z": "P2"}
    assert m.value_conflict_map({"a": "P1", "b": "P1"}, values)["spread"] == {}


def test_normalised_values():
    assert m.normalised_values(header().personas)["a"] == {"safety": 0.75, "cost": 0.25}


def test_stems_match_word_forms():
    assert m.stem("sustainability") == m.stem("sustainable") == "sustai"
    assert m.stem("fairness") == m.stem("fair") == "fair"
    assert m.stem("economic") == m.stem("economy") == "econom"
    assert m.stem("health") == m.stem("healthy")
    assert m.value_mentions("A sustainable plan.", {"sustainability": 0.5, "economic_growth": 0.5}) == 0.5
    assert (
        m.value_mentions("Growth, and a sustainable plan.", {"sustainability": 1, "economic_growth": 3})
        == 1.0
    )
    assert m.value_mentions("Nothing relevant here.", {"fairness": 1.0}) == 0.0


def test_persona_fidelity():
    cards = {
        "green": ("You care about the climate, nature and forests.", {"sustainability": 1.0}),
        "money": ("You care about jobs, incomes and markets.", {"economic_growth": 1.0}),
    }
    t = Transcript(
        [
            header(
                agents=tuple(cards),
                edges=[("green", "money"), ("money", "green")],
                values={k: v for k, (_, v) in cards.items()},
                descriptions={k: d for k, (d, _) in cards.items()},
            )
        ]
    )
    t.append(message(1, "propose", "green", "x", text="Protect nature and the climate; a sustainable plan."))
    t.append(
        message(1, "critique", "green", "x", text="Jobs and incomes come first.")
    )  # reads like money's card
    t.append(message(1, "propose", "money", "x", text="Economic growth creates jobs and markets."))
    t.append(message(1, "revise", "money", "", error="timed out after 5 s"))  # failed turns do not count
    f = m.persona_fidelity(t.messages, t.header.personas)
    assert f["green"]["messages"] == 2 and f["money"]["messages"] == 1
    assert f["green"]["fidelity"] == 0.5
    assert f["money"]["fidelity"] == 1.0
    assert f["money"]["margin"] > 0
    assert f["green"]["value_mentions"] == 0.5  # "sustainable" once in two messages
    assert f["money"]["value_mentions"] == 1.0
    alone = m.persona_fidelity(t.messages, t.header.personas[:1])
    assert alone["green"]["fidelity"] is None and alone["green"]["value_mentions"] == 0.5


def test_cosine():
    assert m.cosine({"a": 1}, {"a": 2}) == pytest.approx(1.0)
    assert m.cosine({"a": 1}, {"b": 1}) == 0.0
    assert m.cosine({}, {"a": 1}) == 0.0


def test_empty_debate_has_empty_metrics():
    pos = positions(Transcript([header()]))
    assert pos.stages == () and m.consensus_curve(pos) == [] and m.consensus_round(pos) is None
    assert m.agreement_matrix(pos)["a"]["b"] is None
    assert m.flip_rate_by_agent(pos) == {"a": None, "b": None, "c": None, "d": None}
    assert m.persuasion_graph(pos, EDGES).number_of_edges() == 0

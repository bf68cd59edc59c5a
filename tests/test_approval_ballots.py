"""Approval ballots: the voter lists every answer it accepts; the approval rule counts them."""

from __future__ import annotations

import pytest
from conftest import make_persona

import agora
from agora.aggregation.parse import parse_approval

ABC = ["A", "B", "C"]


@pytest.mark.parametrize(
    ("reply", "ranking", "method"),
    [
        ("Approve: A, C", [["A", "C"], ["B"]], "approval-line"),
        ("I approve: b", [["B"], ["A", "C"]], "approval-line"),
        ("Approved: A, B, C", [["A", "B", "C"]], "approval-line"),
        ("C, A", [["A", "C"], ["B"]], "letter-line"),
        ("Only B is acceptable.", [["B"], ["A", "C"]], "letters-in-text"),
    ],
)
def test_parse_approval(reply, ranking, method):
    parsed = parse_approval(reply, ABC)
    assert parsed.ranking == ranking and parsed.method == method


def test_approving_nothing_abstains():
    parsed = parse_approval("none of them, sorry", ABC)
    assert parsed.abstained and parsed.method == "abstain" and parsed.notes


def approval_protocol():
    protocol = agora.load_protocol("debate")
    phases = [phase.model_dump() for phase in protocol.spec.phases]
    phases[-1].update(ballot="approval", template="debate/approve.j2")
    return protocol.with_overrides(
        rounds=1, phases=phases, aggregation={"rule": "approval", "report": ["plurality"]}
    )


def test_an_approval_debate_counts_approvals():
    names = ["alpha", "bravo", "charlie"]
    approves = {"alpha": ["alpha", "bravo"], "bravo": ["bravo"], "charlie": ["charlie", "bravo"]}

    def reply(request):
        if request.phase != "vote":
            return f"Answer: TOKEN-{request.agent}-{request.phase} thinks X."
        prompt = request.messages[-1].content
        letters = [
            line[0]
            for line in prompt.splitlines()
            if line[1:3] == ". " and any(f"TOKEN-{a}-" in line for a in approves[request.agent])
        ]
        return "Approve: " + ", ".join(letters)

    result = agora.Debate(
        [make_persona(n) for n in names], approval_protocol(), backend=agora.ScriptedBackend(reply)
    ).run_sync("Q?")
    ballots = {b.agent: b for b in result.transcript.ballots}
    for name, wanted in approves.items():
        assert sorted(ballots[name].approved) == sorted(wanted) and ballots[name].parse == "approval-line"
    outcome = result.outcome
    assert outcome.rule == "approval" and outcome.winner == "bravo"
    assert outcome.scores["approval"] == {"alpha": 1.0, "bravo": 3.0, "charlie": 1.0}

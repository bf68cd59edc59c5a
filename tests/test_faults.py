"""Agent faults on a scripted backend: every fault kind is a failed turn with its reason, the phase goes on, and
the protocol's quorum decides when the debate fails, with a message naming the round, phase and agents."""

from __future__ import annotations

import time

import pytest
from conftest import make_persona, make_reply

import agora
from agora import Debate, DebateError, ScriptedBackend, Transcript
from agora.backends import Fault, FaultyBackend, Generation
from agora.transcript import PhaseEvent

NAMES = ["alpha", "bravo", "charlie", "delta"]
QUESTION = "Should the library open on Sundays?"
REASONS = {
    "raise": "InjectedFault: injected fault for agent",
    "hang": "timed out after 0.2 s",
    "empty": "empty reply",
    "garbage": "no answer could be read from the reply",
}


def personas(names=NAMES):
    return [make_persona(n) for n in names]


def protocol(name: str = "debate", **overrides) -> agora.Protocol:
    return agora.load_protocol(name).with_overrides(rounds=1, timeout_s=0.2, **overrides)


def phase_event(t: Transcript, phase: str) -> PhaseEvent:
    return next(e for e in t.events if isinstance(e, PhaseEvent) and e.phase == phase)


@pytest.mark.parametrize("kind", ["raise", "hang", "empty", "garbage"])
async def test_each_fault_kind_is_a_failed_turn_and_the_debate_goes_on(kind, tmp_path):
    backend = FaultyBackend(ScriptedBackend(make_reply()), {"bravo": Fault(kind, frozenset({"propose"}))})
    out = tmp_path / f"{kind}.jsonl"
    start = time.perf_counter()
    result = await Debate(personas(), protocol(), backend=backend).run(QUESTION, out=out)
    assert time.perf_counter() - start < 5  # a hang costs the timeout, not forever
    t = Transcript.load(out)
    assert t.status == "completed" and t.outcome is not None
    (turn,) = [m for m in t.phase_messages(1, "propose") if m.agent == "bravo"]
    assert not turn.ok and turn.error.startswith(REASONS[kind]), turn.error
    assert turn.answer == ""
    assert phase_event(t, "propose").failed == ["bravo"]
    # its failed proposal reaches no inbox and is no candidate; bravo still critiques, revises and votes
    assert all("r1.propose.bravo" not in m.seen for m in t.messages)
    assert all(m.ok for m in t.messages if m.agent == "bravo" and m.phase != "propose")
    assert backend.injected == [("bravo", "propose", kind)]
    assert result.outcome.voters == 4


@pytest.mark.parametrize("kind", ["raise", "hang", "empty", "garbage"])
async def test_each_fault_kind_in_the_vote_is_a_failed_ballot(kind):
    backend = FaultyBackend(ScriptedBackend(make_reply()), {"delta": Fault(kind, frozenset({"vote"}))})
    result = await Debate(personas(), protocol(), backend=backend).run(QUESTION)
    (ballot,) = [b for b in result.transcript.ballots if b.agent == "delta"]
    assert ballot.ranking == []
    expected = {
        "raise": "InjectedFault: injected fault for agent 'delta'",
        "hang": "timed out after 0.2 s",
        "empty": "empty reply",
        "garbage": "unreadable ballot: no label among A, B, C, D",
    }[kind]
    assert ballot.error.startswith(expected), ballot.error
    assert phase_event(result.transcript, "vote").failed == ["delta"]
    assert result.outcome.voters == 3


@pytest.mark.parametrize("kind", ["raise", "hang", "empty", "garbage"])
async def test_each_fault_kind_in_a_scored_vote_is_a_failed_ballot(kind):
    scorer = ScriptedBackend(
        make_reply(), scorer=lambda req: [-1.0 - i for i in range(len(req.continuations))]
    )
    backend = FaultyBackend(scorer, {"charlie": Fault(kind, frozenset({"vote"}))})
    result = await Debate(personas(), protocol("debate_scored"), backend=backend).run(QUESTION)
    (ballot,) = [b for b in result.transcript.ballots if b.agent == "charlie"]
    assert ballot.ranking == [] and ballot.utilities is None
    expected = {
        "raise": "InjectedFault",
        "hang": "timed out after",
        "empty": "the backend scored 0 answers of",
        "garbage": "the backend returned a score that is not a finite number",
    }[kind]
    assert ballot.error.startswith(expected), ballot.error
    assert result.outcome.voters == 3


@pytest.mark.parametrize(
    "reply, reason",
    [
        (None, "the backend returned NoneType, not a Generation with text"),
        ("plain string", "the backend returned str, not a Generation with text"),
        (
            Generation(text="Answer: fine.", completion_tokens=-3),
            "the backend returned an invalid completion_tokens",
        ),
        (
            Generation(text="Answer: fine.", finish_reason=3),
            "the backend returned an invalid finish_reason: 3",
        ),
    ],
)
async def test_malformed_backend_results_are_failed_turns(reply, reason):
    class Broken(ScriptedBackend):
        async def generate(self, request):
            if request.agent == "alpha" and request.phase == "critique":
                return reply
            return await super().generate(request)

    result = await Debate(personas(), protocol(), backend=Broken(make_reply())).run(QUESTION)
    (turn,) = [m for m in result.transcript.phase_messages(1, "critique") if m.agent == "alpha"]
    assert turn.error.startswith(reason) and turn.text == ""
    assert result.transcript.status == "completed"


async def test_a_scorer_that_crashes_oddly_fails_only_its_ballot():
    def scorer(req):
        if req.agent == "bravo":
            return [1.0]  # one score for several candidates
        return [-1.0] * len(req.continuations)

    backend = ScriptedBackend(make_reply(), scorer=scorer)
    result = await Debate(personas(), protocol("debate_scored"), backend=backend).run(QUESTION)
    (ballot,) = [b for b in result.transcript.ballots if b.agent == "bravo"]
    assert "scorer returned 1 scores" in ballot.error
    assert result.outcome.voters == 3


# -- quorum --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["raise", "hang", "empty", "garbage"])
async def test_at_quorum_the_debate_completes(kind):
    # quorum 50% of 4 agents: two may fail in every phase
    faults = {n: Fault(kind, frozenset({"propose"})) for n in ("alpha", "bravo")}
    backend = FaultyBackend(ScriptedBackend(make_reply()), faults)
    result = await Debate(personas(), protocol(), backend=backend).run(QUESTION)
    assert result.transcript.status == "completed"
    assert sorted(phase_event(result.transcript, "propose").failed) == ["alpha", "bravo"]
    assert phase_event(result.transcript, "critique").failed == [] and result.outcome.voters == 4


@pytest.mark.parametrize("kind", ["raise", "hang", "empty", "garbage"])
async def test_below_quorum_the_debate_fails_naming_round_phase_and_agents(kind, tmp_path):
    faults = {n: Fault(kind, frozenset({"revise"})) for n in ("alpha", "bravo", "delta")}
    backend = FaultyBackend(ScriptedBackend(make_reply()), faults)
    out = tmp_path / "failed.jsonl"
    with pytest.raises(DebateError) as info:
        await Debate(personas(), protocol(), backend=backend).run(QUESTION, out=out)
    message = str(info.value)
    assert message.startswith("round 1, phase 'revise': only 1 of 4 agents answered")
    assert "quorum of 50% (2 needed)" in message
    for name in ("alpha", "bravo", "delta"):
        assert f"{name} ({REASONS[kind]}" in message
    assert "charlie" not in message.split("failed:")[1]
    t = Transcript.load(out)
    assert t.status == "failed" and t.end.error == message
    assert len(t.phase_messages(1, "revise")) == 4 and t.outcome is None


async def test_a_vote_below_quorum_names_no_winner_and_the_abstainers():
    """Unreadable ballots are abstentions, never votes: with fewer valid ballots than the quorum the debate completes
    and its outcome names no winner, saying why."""
    faults = {n: Fault("garbage", frozenset({"vote"})) for n in ("bravo", "charlie", "delta")}
    backend = FaultyBackend(ScriptedBackend(make_reply()), faults)
    result = await Debate(personas(), protocol(), backend=backend).run(QUESTION)
    outcome = result.transcript.outcome
    assert result.transcript.status == "completed"
    assert outcome.winner is None and outcome.answer == "" and outcome.dissenters == []
    assert (outcome.cast, outcome.voters, outcome.quorum) == (4, 1, 2)
    assert sorted(outcome.abstained) == ["bravo", "charlie", "delta"]
    assert outcome.abstained["charlie"].startswith("unreadable ballot: no label among")
    message = outcome.no_winner
    assert message.startswith("only 1 of 4 ballots are valid, below the protocol's quorum of 50% (2 needed)")
    assert "charlie (unreadable ballot: no label among" in message


async def test_quorum_share_is_counted_exactly():
    """quorum 0.3 of 10 agents needs 3 answers (0.3 * 10 is a hair above 3 in floating point)."""
    names = [f"a{i}" for i in range(10)]
    faults = {n: Fault("raise", frozenset({"propose"})) for n in names[:7]}
    backend = FaultyBackend(ScriptedBackend(make_reply()), faults)
    result = await Debate(personas(names), protocol(quorum=0.3), backend=backend).run(QUESTION)
    assert len(phase_event(result.transcript, "propose").answered) == 3
    assert result.transcript.status == "completed"


async def test_long_failure_lists_are_cut_short():
    names = [f"a{i:02d}" for i in range(20)]
    faults = {n: Fault("raise", frozenset({"propose"}), message="x" * 300) for n in names[:15]}
    backend = FaultyBackend(ScriptedBackend(make_reply()), faults)
    with pytest.raises(DebateError) as info:
        await Debate(personas(names), protocol(), backend=backend).run(QUESTION)
    message = str(info.value)
    assert "and 7 more" in message and "\n" not in message and len(message) < 1200

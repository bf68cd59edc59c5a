"""Baseline protocols (vote, single, self_consistency), own-answer ballots and early stopping, on a scripted backend."""

from __future__ import annotations

from conftest import make_persona

import agora
from agora import Debate, ScriptedBackend, Transcript
from agora.run.stopping import budget_spent, consensus
from agora.transcript import MessageEvent, StopEvent
from agora.views.terminal import render

NAMES = ["alpha", "bravo", "charlie", "delta", "echo"]
QUESTION = "Is the sky blue?\nReply yes or no."


def personas(names=NAMES) -> list[agora.Persona]:
    return [make_persona(n) for n in names]


def by_agent(replies: dict[str, str], default: str = "Answer: no."):
    """Every phase: the agent's scripted reply."""
    return lambda req: replies.get(req.agent or "", default)


def test_vote_counts_each_agents_own_answer(tmp_path):
    replies = {"alpha": "Answer: yes.", "bravo": "Answer: yes, it is.", "charlie": "Answer: no."}
    backend = ScriptedBackend(by_agent(replies, default="Answer: yes, because of scattering."))
    result = Debate(personas(), "vote", backend=backend).run_sync(QUESTION, out=tmp_path / "t.jsonl")
    t = Transcript.load(tmp_path / "t.jsonl")
    # one model call per agent: the ballots ask no model
    assert len(backend.requests) == len(NAMES)
    assert {m.phase for m in t.messages} == {"propose"}
    assert all(b.parse == "own" and b.error is None for b in t.ballots)
    assert result.outcome.rule == "plurality"
    assert result.answer.lower().startswith("yes")
    assert result.outcome.scores["plurality"][result.winner] == 4
    assert result.outcome.dissenters == ["charlie"]
    assert "charlie: charlie > alpha   (its own answer first)" in render(t)


def test_vote_majority_can_lose_to_nobody_when_split():
    replies = {"alpha": "Answer: yes.", "bravo": "Answer: no.", "charlie": "Answer: no."}
    backend = ScriptedBackend(by_agent(replies))
    result = Debate(personas(["alpha", "bravo", "charlie"]), "vote", backend=backend).run_sync(QUESTION)
    assert result.answer.lower().startswith("no")
    assert result.outcome.members[result.winner] == ["bravo", "charlie"]


def test_own_ballot_of_a_failed_agent_abstains():
    def reply(req):
        if req.agent == "charlie":
            raise RuntimeError("model crashed")
        return "Answer: yes."

    result = Debate(personas(["alpha", "bravo", "charlie"]), "vote", backend=ScriptedBackend(reply)).run_sync(
        QUESTION
    )
    ballots = {b.agent: b for b in result.transcript.ballots}
    assert ballots["charlie"].error == "no answer of its own" and ballots["charlie"].ranking == []
    assert result.outcome.voters == 2


def test_single_is_one_agent():
    backend = ScriptedBackend(by_agent({"alpha": "Answer: no, it is green."}))
    result = Debate(personas(["alpha"]), "single", backend=backend).run_sync(QUESTION)
    assert result.answer.startswith("No, it is green")
    assert len(backend.requests) == 1


def test_self_consistency_samples_copies_with_their_own_seeds():
    base = make_persona("sampler", generation={"temperature": 0.7, "max_new_tokens": 32})
    copies = [base.model_copy(update={"name": f"sampler-{i}"}) for i in range(1, 5)]
    backend = ScriptedBackend(lambda req: "Answer: yes" if req.seed % 2 else "Answer: no")
    result = Debate(copies, "self_consistency", backend=backend, seed=1).run_sync(QUESTION)
    seeds = {r.seed for r in backend.requests}
    assert len(seeds) == 4
    assert all(r.temperature == 0.7 and r.max_new_tokens == 48 for r in backend.requests)
    yes = sum(1 for r in backend.requests if r.seed % 2)
    assert result.outcome.voters == 4
    expected = "yes" if yes > 2 else "no" if yes < 2 else None
    if expected is not None:
        assert result.answer.lower().startswith(expected)


def test_task_debate_stops_when_answers_are_stable(tmp_path):
    backend = ScriptedBackend(lambda req: "Critique: fine." if req.phase == "critique" else "Answer: yes.")
    protocol = agora.load_protocol("task_debate").with_overrides(rounds=3)
    result = Debate(personas(), protocol, backend=backend).run_sync(QUESTION, out=tmp_path / "t.jsonl")
    t = Transcript.load(tmp_path / "t.jsonl")
    stops = [e for e in t.events if isinstance(e, StopEvent)]
    assert len(stops) == 1 and stops[0].round == 1 and stops[0].reason == "stable"
    assert {m.round for m in t.messages} == {1}
    assert result.outcome.voters == len(NAMES) and result.answer.lower().startswith("yes")
    assert t.status == "completed"
    assert "stopped after round 1: stable" in render(t)


def test_changing_answers_run_every_round():
    def reply(req):
        if req.phase == "critique":
            return "Critique: wrong."
        # every revision flips the agent's answer
        return "Answer: yes." if (req.phase == "propose") else f"Answer: {'no' if req.seed % 2 else 'maybe'}."

    protocol = agora.load_protocol("task_debate").with_overrides(rounds=3)
    result = Debate(personas(["alpha", "bravo"]), protocol, backend=ScriptedBackend(reply)).run_sync(QUESTION)
    rounds = {m.round for m in result.transcript.messages}
    stopped = [e for e in result.transcript.events if isinstance(e, StopEvent)]
    # round 1 changes every answer (yes -> no/maybe); later rounds stop as soon as nobody changes
    assert 1 in rounds and all(s.round >= 2 for s in stopped)


def test_unanimous_stop_and_token_budget():
    backend = ScriptedBackend(lambda req: "Critique: ok." if req.phase == "critique" else "Answer: yes.")
    protocol = agora.load_protocol("task_debate").with_overrides(rounds=3, stop={"consensus": "unanimous"})
    result = Debate(personas(), protocol, backend=backend).run_sync(QUESTION)
    stops = [e for e in result.transcript.events if isinstance(e, StopEvent)]
    assert [(s.round, s.reason) for s in stops] == [(1, "unanimous")]

    # disagreement: no consensus; a budget of one phase's tokens stops after the first phase
    words = "Answer: {} one two three four five six seven."
    backend = ScriptedBackend(lambda req: words.format(req.agent))
    protocol = agora.load_protocol("task_debate").with_overrides(
        rounds=3, stop={"consensus": "unanimous", "max_tokens": 15}
    )
    result = Debate(personas(["alpha", "bravo"]), protocol, backend=backend).run_sync(QUESTION)
    stops = [e for e in result.transcript.events if isinstance(e, StopEvent)]
    assert [(s.round, s.reason) for s in stops] == [(1, "token budget")]
    assert stops[0].completion_tokens >= 15
    assert {m.phase for m in result.transcript.messages} == {"propose"}
    assert result.outcome is not None


def test_no_stop_without_consensus_setting():
    backend = ScriptedBackend(lambda req: "Ranking: A" if req.phase == "vote" else "Answer: yes.")
    protocol = agora.load_protocol("debate").with_overrides(rounds=2)
    result = Debate(personas(["alpha", "bravo"]), protocol, backend=backend).run_sync("Is it?")
    assert not [e for e in result.transcript.events if isinstance(e, StopEvent)]
    assert {m.round for m in result.transcript.messages} == {1, 2}


def message(agent: str, answer: str, round: int = 1, phase: str = "propose") -> MessageEvent:
    return MessageEvent(
        id=f"r{round}.{phase}.{agent}",
        round=round,
        phase=phase,
        kind=phase,
        agent=agent,
        model="scripted",
        recipients=[],
        prompt_hash="x",
        text=f"Answer: {answer}",
        answer=answer,
    )


def test_consensus_rules():
    yes_no = {"a": message("a", "Yes."), "b": message("b", "No.")}
    both_yes = {"a": message("a", "Yes."), "b": message("b", "Yes, it is.", 1, "revise")}
    assert consensus("none", [both_yes], 2, 0.7) is None
    assert consensus("unanimous", [both_yes], 2, 0.7) == "unanimous"
    assert consensus("unanimous", [yes_no], 2, 0.7) is None
    assert consensus("unanimous", [{"a": message("a", "Yes.")}], 2, 0.7) is None  # b has no answer yet
    assert consensus("stable", [yes_no], 2, 0.7) is None  # nothing to compare with yet
    assert consensus("stable", [yes_no, yes_no], 2, 0.7) == "stable"  # nobody answered again
    assert consensus("stable", [yes_no, both_yes], 2, 0.7) is None  # b changed its mind
    assert consensus("stable", [both_yes, both_yes | {"b": message("b", "Yes.", 2, "revise")}], 2, 0.7) == (
        "stable"
    )
    assert budget_spent(None, 10**6) is None
    assert budget_spent(100, 99) is None and budget_spent(100, 100) == "token budget"

"""Judged debates (the mad protocol): roles, turns, the judge's adaptive stop and its verdict."""

from __future__ import annotations

import pytest
from conftest import make_persona

import agora
from agora.errors import ConfigError
from agora.run.verdict import parse_verdict
from agora.views.terminal import render

ROLES = {"alpha": "affirmative", "bravo": "negative"}


@pytest.mark.parametrize(
    ("text", "final", "winner", "method"),
    [
        ("Winner: negative. Its reason is better.", False, "bravo", "winner-line"),
        ("**Winner:** Alpha", False, "alpha", "winner-line"),
        ("Decision - affirmative side", False, "alpha", "winner-line"),
        ("Winner: none, the debate should go on.", False, None, "undecided"),
        ("Winner: neither", True, None, "undecided"),
        ("Both made good points.", False, None, "none"),
        ("The negative side was more convincing.", True, "bravo", "first-mention"),
        ("I cannot tell.", True, None, "none"),
    ],
)
def test_parse_verdict(text, final, winner, method):
    verdict = parse_verdict(text, ROLES, final)
    assert (verdict.winner, verdict.method) == (winner, method)


def script(judge_says):
    """Debaters answer by role; the judge says ``judge_says[round]``."""

    def reply(request):
        if request.phase == "judge":
            return judge_says.pop(0)
        return f"Answer: {request.agent} says {'yes' if request.agent == 'alpha' else 'no'} ({request.seed % 100})."

    return reply


def run(judge_says, names=("alpha", "bravo"), rounds=None):
    backend = agora.ScriptedBackend(script(list(judge_says)))
    debate = agora.Debate([make_persona(n) for n in names], "mad", backend=backend, rounds=rounds)
    return debate.run_sync("Is it wise?"), backend


def test_the_judge_stops_the_debate_as_soon_as_one_side_is_better():
    result, backend = run(["Winner: none", "Winner: negative, clearly."])
    t = result.transcript
    assert [e.phase for e in t if e.type == "phase"] == ["argue", "judge", "argue", "judge"]
    stop = next(e for e in t if e.type == "stop")
    assert stop.round == 2 and "judge decided" in stop.reason
    outcome = result.outcome
    assert (
        outcome.rule == "judge" and outcome.winner == "bravo" and outcome.answer.startswith("Bravo says no")
    )
    assert outcome.dissenters == ["alpha"] and outcome.judgement["round"] == 2
    assert outcome.judgement["decided_early"] and outcome.judgement["method"] == "winner-line"
    # turns are sequential: the negative hears the affirmative's answer of the same round
    argue1 = {m.agent: m for m in t.phase_messages(1, "argue")}
    assert argue1["bravo"].seen == [argue1["alpha"].id] and argue1["alpha"].seen == []
    prompts = {q.agent: q.messages[-1].content for q in backend.requests if q.phase == "argue"}
    assert "You disagree with the other side" in prompts["bravo"]
    assert "disagree" not in prompts["alpha"] and "- bravo: Bravo says no" in prompts["alpha"]
    # the judge sees the round's messages with each side's role, and the debaters never hear the judge
    judge_prompt = next(q for q in backend.requests if q.phase == "judge").messages[-1].content
    assert "The affirmative side (alpha)" in judge_prompt and "The negative side (bravo)" in judge_prompt
    assert all(not s.startswith("r1.judge") for m in t.phase_messages(2, "argue") for s in m.seen)
    assert "the judge decided early, after round 2; read from its Winner line" in render(t)


def test_after_the_last_round_the_judge_must_decide():
    result, backend = run(["Winner: none", "Winner: none", "The affirmative side wins."])
    outcome = result.outcome
    assert outcome.winner == "alpha" and outcome.judgement["method"] == "first-mention"
    assert not outcome.judgement["decided_early"] and not any(e.type == "stop" for e in result.transcript)
    final_prompt = [q for q in backend.requests if q.phase == "judge"][-1].messages[-1].content
    assert "Winner: none" not in final_prompt  # no way out in the final round


def test_a_judge_that_never_decides_leaves_no_winner_and_says_so():
    result, _ = run(["Winner: none"] * 3)
    assert result.outcome.winner is None and result.outcome.judgement["method"] == "undecided"


def test_a_failing_judge_lets_the_debate_go_on_and_is_recorded():
    result, _ = run([RuntimeError("judge down"), "Winner: affirmative", "unused"])
    outcome = result.outcome
    assert outcome.winner == "alpha" and outcome.judgement["round"] == 2
    (first,) = result.transcript.phase_messages(1, "judge")
    assert "judge down" in first.error


def test_roles_need_exactly_as_many_agents():
    with pytest.raises(ConfigError, match="exactly 2 agents"):
        run([], names=("alpha", "bravo", "charlie"))


def test_a_judge_phase_needs_roles_and_no_vote():
    spec = agora.load_protocol("mad").spec.model_dump()
    with pytest.raises(ConfigError, match="roles"):
        agora.load_protocol("mad").with_overrides(roles=["only"])
    spec["phases"].append({"name": "vote", "kind": "vote", "template": "debate/vote.j2", "when": "last"})
    with pytest.raises(ConfigError, match="judge phase"):
        agora.load_protocol("mad").with_overrides(phases=spec["phases"])


async def test_a_cut_judged_debate_resumes_to_the_uninterrupted_run(tmp_path):
    says = ["Winner: none", "Winner: none", "Winner: negative"]
    personas = [make_persona(n) for n in ("alpha", "bravo")]
    out = tmp_path / "full.jsonl"
    full = await agora.Debate(personas, "mad", backend=agora.ScriptedBackend(script(list(says)))).run(
        "Q?", out=out
    )
    raw = out.read_bytes()
    ends = [i + 1 for i, b in enumerate(raw) if b == ord("\n")]
    for cut in ends[:-2]:
        path = tmp_path / f"cut{cut}.jsonl"
        path.write_bytes(raw[:cut])
        kept = agora.Transcript.load(path)
        judged = sum(1 for e in kept if e.type == "phase" and e.phase == "judge")  # complete judge phases
        resumed = await agora.resume(path, backend=agora.ScriptedBackend(script(says[judged:] + says)))
        assert resumed.transcript.content() == full.transcript.content(), cut

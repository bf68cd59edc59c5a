"""The judge of a judged debate (multi-agent debate after Liang et al.): after every round a neutral judge, which holds
no persona and runs on the model most personas use, reads the round's messages and either names the better side or
lets the debate go on; in the last round it must decide. Its verdict is the outcome (read by agora.run.verdict)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agora.backends.base import ChatMessage
from agora.protocol.contexts import JudgeContext
from agora.protocol.spec import PhaseKind, PhaseSpec, phase_kind
from agora.run.context import RunContext
from agora.run.kinds.vote import DEFAULT_VOTE_TOKENS
from agora.run.verdict import parse_verdict
from agora.transcript import MessageEvent, OutcomeEvent, StopEvent

if TYPE_CHECKING:
    from agora.protocol.spec import ProtocolSpec
    from agora.run.state import RoundState


class Judge(PhaseKind):
    name = "judge"
    context = JudgeContext
    system_prompt = False
    heard = False  # the debaters hear each other, not the judge

    def check(self, spec: ProtocolSpec, phase: PhaseSpec) -> None:
        if spec.mediation is not None or any(phase_kind(p.kind).tallies for p in spec.phases):
            raise ValueError(
                "a protocol with a judge phase ends with the judge's verdict, not a vote or mediation"
            )
        judges = [p for p in spec.phases if p.kind == self.name]
        if len(judges) > 1 or phase.when != "every" or spec.phases[-1].kind != self.name:
            raise ValueError(
                "a judge phase runs every round, as the last phase of the round (one per protocol)"
            )
        if len(spec.roles) < 2:
            raise ValueError("a protocol with a judge phase names the debaters' roles (at least two)")

    async def run(self, run: RunContext, state: RoundState, phase: PhaseSpec) -> bool:
        final = state.round == run.spec.rounds
        message = await judge_turn(run, state, phase, final)
        return decide(run, state, message, final)

    async def replay(self, run: RunContext, state: RoundState, phase: PhaseSpec) -> bool:
        (message,) = run.record.transcript.phase_messages(state.round, phase.name)
        return decide(run, state, message, state.round == run.spec.rounds)


async def judge_turn(run: RunContext, state: RoundState, phase: PhaseSpec, final: bool) -> MessageEvent:
    """One greedy reply from the neutral judge to this round's messages, recorded as the phase."""
    shown = [m for m in state.previous.values() if m.ok]
    context = JudgeContext(
        question=state.question,
        round=state.round,
        rounds=run.spec.rounds,
        inbox=[run.turns.view(m) for m in shown],
        roles=dict(run.roles),
        final=final,
    )
    messages = (ChatMessage("user", run.protocol.templates[phase.name].render(**context.variables())),)
    (message,) = await run.turns.neutral(
        phase,
        state.round,
        messages,
        ["judge"],
        speaker="judge",
        kind="judge",
        recipients=[],
        seen=[m.id for m in shown],
        max_new_tokens=phase.max_new_tokens or DEFAULT_VOTE_TOKENS,
    )
    return message


def decide(run: RunContext, state: RoundState, message: MessageEvent, final: bool) -> bool:
    """Read the judge's verdict; when it names a side (always in the final round), record the outcome and return True
    (the debate is decided)."""
    r = state.round
    verdict = parse_verdict(message.text, run.roles, final) if message.ok else None
    winner = verdict.winner if verdict is not None else None
    if winner is None and not final:
        return False
    if not final:
        reason = f"the judge decided after round {r}"
        run.record.emit(
            StopEvent(round=r, reason=reason, completion_tokens=run.record.completion_tokens()), sync=True
        )
        run.record.notify("stop", r, detail=reason)
    answers = {n: state.latest[n].answer for n in run.order if n in state.latest}
    others = [n for n in answers if n != winner]
    judgement = {
        "judge": message.agent,
        "round": r,
        "verdict": message.text,
        "method": verdict.method if verdict is not None else "error",
        "error": message.error,
        "decided_early": not final,
    }
    if winner and others:
        ranking = [[winner], others]
    elif winner:
        ranking = [[winner]]
    else:
        ranking = [list(answers)]
    run.record.emit(
        OutcomeEvent(
            rule="judge",
            weighted=False,
            winner=winner,
            answer=answers.get(winner, "") if winner else "",
            ranking=ranking,
            scores={"judge": {n: 1.0 if n == winner else 0.0 for n in answers}},
            winners_by_rule={"judge": [winner] if winner else []},
            candidates=answers,
            members={n: [n] for n in answers},
            dissenters=others if winner else [],
            voters=1,
            judgement=judgement,
        ),
        sync=True,
    )
    run.record.notify("outcome", detail=answers.get(winner, "no decision") if winner else "no decision")
    return True

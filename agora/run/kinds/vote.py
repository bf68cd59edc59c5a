"""The vote: every agent's latest answer becomes a candidate (answers that say the same merged into one), every agent
casts a ballot over the candidates (each sees them labelled in its own seeded order), and the ballots are counted
into the debate's outcome. It runs in the last round, or at once when the debate stops early."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agora.aggregation.candidates import Candidate, merge_answers
from agora.errors import DebateError
from agora.protocol.contexts import BallotContext, CandidateView
from agora.protocol.spec import PhaseKind, PhaseSpec
from agora.run.ballots import failed_ballot, generated_ballot, own_ballot, scored_ballot
from agora.run.context import RunContext
from agora.run.seeds import ballot_order
from agora.run.state import RoundState
from agora.run.tally import tally, weighting_for
from agora.run.turns import fault_reason
from agora.transcript import BallotEvent

if TYPE_CHECKING:
    from agora.protocol.spec import ProtocolSpec

#: new tokens for a written ballot when the phase does not say
DEFAULT_VOTE_TOKENS = 24
#: ranked ballots label candidates A-Z
MAX_CANDIDATES = 26


class Vote(PhaseKind):
    name = "vote"
    context = BallotContext
    heard = False
    tallies = True
    failed_word = "abstained or failed"

    def check(self, spec: ProtocolSpec, phase: PhaseSpec) -> None:
        if phase.when != "last":
            raise ValueError(f"vote phase {phase.name!r} must have when: last")
        if sum(p.kind == self.name for p in spec.phases) > 1:
            raise ValueError("a protocol has at most one vote phase")
        if spec.mediation is not None:
            raise ValueError("a protocol with mediation ends with the mediator's statement, not a vote phase")

    async def run(self, run: RunContext, state: RoundState, phase: PhaseSpec) -> bool:
        merged = candidates(run, state.latest, state.question)
        if not merged:
            raise DebateError("no agent has an answer to vote on")
        valid = await cast_ballots(run, state, phase, merged)
        weighting = await weighting_for(run, state.question)
        run.record.emit(tally(run, valid, merged, weighting), sync=True)
        return False

    async def replay(self, run: RunContext, state: RoundState, phase: PhaseSpec) -> bool:
        return False  # its outcome is in the transcript already


def candidates(run: RunContext, latest: dict, question: str | None = None) -> list[Candidate]:
    """Every agent's latest answer, with answers that take the same position on ``question`` merged into one
    candidate."""
    answers = {n: latest[n].answer or latest[n].text[:200] for n in run.order if n in latest}
    agg = run.spec.aggregation
    if not agg.merge:
        return [Candidate(n, a, (n,)) for n, a in answers.items()]
    return merge_answers(answers, agg.merge_threshold, exact=run.read_answer is not None, question=question)


async def cast_ballots(
    run: RunContext, state: RoundState, phase: PhaseSpec, merged: list[Candidate]
) -> list[BallotEvent]:
    """Every agent's ballot over the candidates, emitted with the phase's closing event; returns the valid ballots
    (the phase fails below the quorum)."""
    start = time.perf_counter()
    ids = [c.id for c in merged]
    answers = {c.id: c.answer for c in merged}
    if len(ids) > MAX_CANDIDATES:
        raise DebateError(
            f"ranked ballots support at most {MAX_CANDIDATES} candidates, this debate has {len(ids)}"
        )

    async def one(name: str, earlier: list[BallotEvent]) -> BallotEvent:
        persona = run.personas[name]
        labels = ballot_order(ids, run.seed, name)
        shown = [CandidateView(label=lab, text=answers[c]) for lab, c in labels.items()]
        context = run.turns.context(state, persona, phase, state.latest.get(name), [], candidates=shown)
        request = run.turns.request(persona, phase, state.round, context, DEFAULT_VOTE_TOKENS)
        try:
            if phase.ballot == "own":
                return own_ballot(run, name, merged, labels)
            if phase.ballot == "scored":
                return await scored_ballot(run, name, request, merged, labels)
            return await generated_ballot(run, name, request, labels, approval=phase.ballot == "approval")
        except Exception as exc:  # noqa: BLE001 - one voter's fault must not end the debate
            return failed_ballot(run, name, labels, fault_reason(exc))

    ballots = await run.turns.each(phase, state.round, run.order, one)
    run.record.close_phase(phase, state.round, start, ballots, failed_word=Vote.failed_word)
    return [b for b in ballots if b.ranking]

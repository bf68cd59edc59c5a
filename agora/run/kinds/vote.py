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
from agora.transcript import BallotEvent, OutcomeEvent

if TYPE_CHECKING:
    from agora.protocol.spec import ProtocolSpec

#: new tokens for a written ballot when the phase does not say
DEFAULT_VOTE_TOKENS = 24
#: written ballots (ranking, approval) name candidates by one letter, A to Z: at most this many candidates
MAX_LETTER_CANDIDATES = 26
#: the ballot kinds a voter's model writes out by letter
LETTER_BALLOTS = ("generated", "approval")
#: scored ballots over at most this many candidates are scored in every rotation of the options' order
ROTATE_UP_TO = 6


def score_orders(shown: list[str]) -> list[list[str]]:
    """The orders of the options a scored ballot is scored in, the voter's own first. Up to :data:`ROTATE_UP_TO`
    options, every rotation (each option once in each position, so any effect of position cancels); beyond, the
    voter's order and its reverse (each option's position mirrored, which cancels an effect that grows or falls
    steadily down the list)."""
    if len(shown) <= ROTATE_UP_TO:
        return [shown[k:] + shown[:k] for k in range(len(shown))]
    return [shown, shown[::-1]]


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
        if phase.ballot in LETTER_BALLOTS and len(merged) > MAX_LETTER_CANDIDATES:
            run.record.close_phase(phase, state.round, time.perf_counter(), [], check_quorum=False)
            reason = (
                f"{len(merged)} different answers, more than the {MAX_LETTER_CANDIDATES} letters a written "
                "ballot can name: no ballot was cast (ballot: scored or own has no such limit)"
            )
            run.record.emit(too_many(run, merged, reason), sync=True)
            return False
        ballots = await cast_ballots(run, state, phase, merged)
        weighting = await weighting_for(run, state.question)
        run.record.emit(tally(run, ballots, merged, weighting), sync=True)
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
    """Every agent's ballot over the candidates, emitted with the phase's closing event (valid or not: the tally
    counts the valid ones and names no winner below the quorum)."""
    start = time.perf_counter()
    ids = [c.id for c in merged]
    answers = {c.id: c.answer for c in merged}

    def prompt(name: str, labels: dict[str, str]):
        persona = run.personas[name]
        shown = [CandidateView(label=lab, text=answers[c]) for lab, c in labels.items()]
        context = run.turns.context(state, persona, phase, state.latest.get(name), [], candidates=shown)
        return run.turns.request(persona, phase, state.round, context, DEFAULT_VOTE_TOKENS)

    async def one(name: str, earlier: list[BallotEvent]) -> BallotEvent:
        labels = ballot_order(ids, run.seed, name)
        request = prompt(name, labels)
        try:
            if phase.ballot == "own":
                return own_ballot(run, name, merged, labels)
            if phase.ballot == "scored":
                orders = [
                    dict(zip(labels, order, strict=True)) for order in score_orders(list(labels.values()))
                ]
                return await scored_ballot(run, name, [prompt(name, o) for o in orders], merged, labels)
            return await generated_ballot(
                run, name, request, labels, answers, approval=phase.ballot == "approval"
            )
        except Exception as exc:  # noqa: BLE001 - one voter's fault must not end the debate
            return failed_ballot(run, name, labels, fault_reason(exc))

    ballots = await run.turns.each(phase, state.round, run.order, one)
    run.record.close_phase(
        phase, state.round, start, ballots, failed_word=Vote.failed_word, check_quorum=False
    )
    return ballots


def too_many(run: RunContext, merged: list[Candidate], reason: str) -> OutcomeEvent:
    """The outcome of a written vote over more candidates than letters: no winner, and why."""
    answers = {c.id: c.answer for c in merged}
    return OutcomeEvent(
        rule=run.spec.aggregation.rule,
        weighted=False,
        winner=None,
        answer="",
        ranking=[list(answers)],
        scores={},
        candidates=answers,
        members={c.id: list(c.members) for c in merged},
        voters=0,
        cast=0,
        no_winner=reason,
    )

"""Counting a vote: each ballot's weight (the persona's, and how much the question puts its stated values at stake),
the protocol's rule and the rules it also reports, the winner, who dissented and which values collided."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from agora.aggregation.ballot import Ballot
from agora.aggregation.candidates import Candidate
from agora.aggregation.dissent import dissent, value_conflict
from agora.aggregation.outcome import aggregate
from agora.aggregation.relevance import agent_weights, measure_relevance
from agora.aggregation.robustness import robustness
from agora.run.checkpoint import quorum_needed
from agora.run.context import RunContext
from agora.run.record import describe_failures
from agora.transcript import BallotEvent, OutcomeEvent


@dataclass(frozen=True)
class Weighting:
    """Value-weighted voting: agent -> weight, value -> relevance, or why they could not be measured."""

    weights: dict[str, float]
    relevance: dict[str, float]
    error: str | None


async def value_weights(run: RunContext, question: str) -> Weighting:
    """Each agent's value-weighted voting weight (agora.aggregation.relevance). A judge that cannot score leaves every
    ballot at its plain weight, and the reason is recorded in the outcome."""
    agg = run.spec.aggregation
    stated = {n: dict(run.personas[n].normalised_values) for n in run.order}
    values = sorted({v for vals in stated.values() for v in vals})
    run.record.notify("relevance", detail=f"{len(values)} stated values")
    timeout = run.spec.timeout_s
    try:
        measured = await asyncio.wait_for(
            measure_relevance(run.turns.neutral_backend(), question, values), timeout
        )
    except asyncio.TimeoutError:
        return Weighting({}, {}, f"timed out after {timeout:g} s")
    except Exception as exc:  # noqa: BLE001 - the vote still stands, with equal weights
        return Weighting({}, {}, f"{type(exc).__name__}: {exc}")
    weights = agent_weights(stated, measured.relevance, agg.relevance_floor)
    return Weighting(
        {n: round(w, 6) for n, w in weights.items()},
        {v: round(x, 6) for v, x in measured.relevance.items()},
        None,
    )


async def weighting_for(run: RunContext, question: str) -> Weighting | None:
    """The value weighting when the protocol weighs ballots by values, else None."""
    return await value_weights(run, question) if run.spec.aggregation.by_values else None


def tally(
    run: RunContext,
    ballots: list[BallotEvent],
    merged: list[Candidate],
    weighting: Weighting | None = None,
    rule: str | None = None,
) -> OutcomeEvent:
    """The outcome of the cast ``ballots`` over the ``merged`` candidates under ``rule`` (default: the protocol's).

    Only valid ballots count; the others are abstentions with their reasons. With fewer valid ballots than the
    protocol's quorum of the ballots cast, the outcome names no winner and says why (the scores of the valid ballots
    stay visible)."""
    cast = len(ballots)
    abstained = {b.agent: b.error or "abstained" for b in ballots if not b.ranking}
    ballots = [b for b in ballots if b.ranking]
    need = quorum_needed(run.spec.quorum, cast)
    candidates = [c.id for c in merged]
    answers = {c.id: c.answer for c in merged}
    agg = run.spec.aggregation
    rule = rule or agg.rule
    by_value = weighting.weights if weighting is not None else {}
    weighted = agg.weighted or bool(by_value)
    counted = [
        Ballot.of(
            b.agent,
            b.ranking,
            (b.weight if agg.weighted else 1.0) * by_value.get(b.agent, 1.0),
            utilities=b.utilities,
            approved=b.approved,
        )
        for b in ballots
    ]
    main = aggregate(counted, candidates, rule, weighted=weighted, seed=run.seed)
    scores = {main.rule: main.scores}
    winners_by_rule = {main.rule: main.winners}
    for other_rule in agg.report:
        if other_rule not in scores:
            other = aggregate(counted, candidates, other_rule, weighted=weighted, seed=run.seed)
            scores[other_rule] = other.scores
            winners_by_rule[other_rule] = other.winners
    dissenters = [b.voter for b in counted if main.winner is not None and main.winner not in b.top]
    outcome = OutcomeEvent(
        rule=main.rule,
        weighted=weighted,
        winner=main.winner,
        answer=answers[main.winner] if main.winner else "",
        ranking=main.ranking,
        tied_winners=main.tied_winners,
        tie_break=main.tie_break,
        margin=main.margin,
        scores=scores,
        winners_by_rule=winners_by_rule,
        candidates=answers,
        members={c.id: list(c.members) for c in merged},
        dissenters=dissenters,
        dissent=dissent(counted, main.winner, main.scores),
        value_conflict=value_conflict(
            counted, main.winner, {n: dict(p.normalised_values) for n, p in run.personas.items()}
        ),
        voters=len(counted),
        cast=cast,
        abstained=abstained,
        quorum=need,
        weights=by_value,
        relevance=weighting.relevance if weighting is not None else {},
        weighting_error=weighting.error if weighting is not None else None,
    )
    if main.winner is not None:
        report = robustness(
            counted, candidates, main.rule, main.winner, main.ranking, weighted=weighted, seed=run.seed
        )
        outcome = outcome.model_copy(update={"robustness": report})
    if len(counted) < need:
        reason = (
            f"only {len(counted)} of {cast} ballots are valid, below the protocol's quorum of "
            f"{run.spec.quorum:.0%} ({need} needed)"
            + (f"; abstained: {describe_failures(abstained)}" if abstained else "")
        )
        outcome = outcome.model_copy(update=dict(NO_WINNER, no_winner=reason))
    run.record.notify("outcome", detail=outcome.answer or f"no winner: {outcome.no_winner}")
    return outcome


#: the fields of an outcome that name or follow from a winner, as they are when there is none
NO_WINNER = {
    "winner": None,
    "answer": "",
    "tied_winners": [],
    "tie_break": None,
    "margin": None,
    "dissenters": [],
    "dissent": [],
    "value_conflict": {},
    "robustness": {},
}

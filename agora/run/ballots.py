"""One voter's ballot over the candidates, in each of the ways a vote phase can ask for it:

- ``generated``: the voter's model writes a ranking (or, for ``approval``, the answers it accepts), parsed robustly
  with every fallback noted (:mod:`agora.aggregation.parse`);
- ``scored``: the voter's model scores every candidate answer as its own reply; utilities are the softmax of the mean
  log-probability per token, and the ranking follows them;
- ``own``: the voter ranks the candidate that holds its own latest answer first (no model call).

A ballot that cannot be had is recorded with ``parse: error`` and why; it counts for nothing.
"""

from __future__ import annotations

import asyncio
import math
import time

from agora.aggregation.ballot import Ballot
from agora.aggregation.candidates import Candidate
from agora.aggregation.parse import parse_approval, parse_ranking
from agora.backends.base import GenerationRequest, ScoreRequest
from agora.run.context import RunContext
from agora.run.turns import fault_reason
from agora.transcript import BallotEvent


def _scoring(request: GenerationRequest, merged: list[Candidate], name: str) -> ScoreRequest:
    return ScoreRequest(request.messages, tuple(c.answer for c in merged), agent=name, phase=request.phase)


def failed_ballot(
    run: RunContext, name: str, labels: dict[str, str], error: str, **rest: object
) -> BallotEvent:
    """A ballot that counts for nothing, with why."""
    weight = run.personas[name].weight
    return BallotEvent(
        agent=name, weight=weight, labels=labels, ranking=[], parse="error", error=error, **rest
    )


async def generated_ballot(
    run: RunContext,
    name: str,
    request: GenerationRequest,
    labels: dict[str, str],
    texts: dict[str, str],
    approval: bool = False,
) -> BallotEvent:
    """The voter writes a ranking (or, for approval, the answers it accepts) of the labelled answers (``texts``:
    candidate id -> the answer shown, to tell a copy of the options from a choice)."""
    reply = await run.turns.call(name, request)
    timing = {"latency_s": round(reply.seconds, 4)}
    if reply.error is not None:
        raw = reply.gen.text if reply.gen else ""
        return failed_ballot(run, name, labels, reply.error, raw=raw, timing=timing)
    raw = reply.gen.text
    options = {label: texts[c] for label, c in labels.items()}
    parsed = (parse_approval if approval else parse_ranking)(raw, list(labels), options)
    ranking = [[labels[lab] for lab in tier] for tier in parsed.ranking]
    return BallotEvent(
        agent=name,
        weight=run.personas[name].weight,
        labels=labels,
        ranking=ranking,
        raw=raw,
        parse=parsed.method,
        notes=parsed.notes,
        error=f"unreadable ballot: {parsed.notes[0]}" if not ranking and parsed.notes else None,
        approved=ranking[0] if approval and ranking else None,
        timing=timing,
    )


def own_ballot(run: RunContext, name: str, merged: list[Candidate], labels: dict[str, str]) -> BallotEvent:
    """The voter ranks the candidate that holds its own latest answer first and ties the rest (no model call):
    counted by plurality, this is a plain majority vote over the agents' answers."""
    weight = run.personas[name].weight
    mine = next((c.id for c in merged if name in c.members), None)
    if mine is None:
        return BallotEvent(
            agent=name, weight=weight, labels=labels, ranking=[], parse="own", error="no answer of its own"
        )
    rest = [c.id for c in merged if c.id != mine]
    ranking = [[mine], rest] if rest else [[mine]]
    return BallotEvent(agent=name, weight=weight, labels=labels, ranking=ranking, parse="own")


async def scored_ballot(
    run: RunContext,
    name: str,
    requests: list[GenerationRequest],
    merged: list[Candidate],
    labels: dict[str, str],
) -> BallotEvent:
    """The voter's model scores every candidate answer as its own reply; utilities are the softmax of the mean
    log-probability per token over the candidates, and the ranking follows them.

    ``requests`` are the vote prompt with the options in several orders (:func:`agora.run.kinds.vote.score_orders`).
    When the prompt shows the options, each answer's score is its mean over the orders, so its position in the list
    does not lift or sink it; when it does not (every prompt is the same), one pass is scored."""
    prompts = list({r.messages: r for r in requests}.values())
    timeout = run.spec.timeout_s
    start = time.perf_counter()
    means: dict[str, float] = {}
    try:
        passes = await asyncio.wait_for(
            asyncio.gather(*(run.backends[name].score(_scoring(r, merged, name)) for r in prompts)), timeout
        )
        values = [[float(v) for v in scores.mean_logprobs] for scores in passes]
        if any(len(v) != len(merged) for v in values):
            error = f"the backend scored {min(len(v) for v in values)} answers of {len(merged)}"
        elif not all(math.isfinite(x) for v in values for x in v):
            error = "the backend returned a score that is not a finite number"
        else:
            error = None
            means = {c.id: sum(v[i] for v in values) / len(values) for i, c in enumerate(merged)}
    except asyncio.TimeoutError:
        error = f"timed out after {timeout:g} s"
    except Exception as exc:  # noqa: BLE001 - one voter's fault must not end the debate
        error = fault_reason(exc)
    timing = {"latency_s": round(time.perf_counter() - start, 4)}
    if error is not None:
        return failed_ballot(run, name, labels, error, timing=timing)
    top = max(means.values())
    exp = {c: math.exp(v - top) for c, v in means.items()}
    total = sum(exp.values())
    utilities = {c: round(e / total, 6) for c, e in exp.items()}
    ballot = Ballot.of(name, (), utilities=utilities)
    return BallotEvent(
        agent=name,
        weight=run.personas[name].weight,
        labels=labels,
        ranking=[list(t) for t in ballot.ranking],
        parse="scored",
        notes=[f"mean over {len(prompts)} orders of the options shown"] if len(prompts) > 1 else [],
        utilities=utilities,
        logprobs={c: round(v, 6) for c, v in means.items()},
        timing=timing,
    )

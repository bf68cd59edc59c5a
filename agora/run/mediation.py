"""Mediator synthesis (after the Habermas Machine, Tessler et al. 2024), run after the rounds instead of a vote: the
mediator drafts several group statements from the agents' latest answers and the last phase's critiques, the agents
rank the drafts, the protocol's mediation rule picks one, the agents critique it, and the mediator revises it once.
The revised statement is the outcome's answer."""

from __future__ import annotations

from agora.aggregation.candidates import Candidate, merge_answers
from agora.backends.base import ChatMessage
from agora.errors import DebateError
from agora.protocol.contexts import MediatorContext
from agora.protocol.spec import PhaseSpec
from agora.run.context import RunContext
from agora.run.kinds.vote import cast_ballots
from agora.run.state import RoundState
from agora.run.tally import tally, weighting_for
from agora.transcript import MessageEvent


async def mediate(run: RunContext, state: RoundState) -> None:
    """Drafts from the mediator, the agents' ranking of them, the chosen draft's critique and one revision."""
    med = run.spec.mediation
    assert med is not None
    r = state.round
    phases = run.protocol.mediation_phases()
    opinions = [state.latest[n] for n in run.order if n in state.latest]
    if not opinions:
        raise DebateError("no agent has an answer for the mediator to work from")
    critiques = [m for m in state.previous.values() if m.kind == "critique" and m.ok]
    context = MediatorContext(
        question=state.question,
        round=r,
        opinions=[run.turns.view(m) for m in opinions],
        critiques=[run.turns.view(m) for m in critiques],
        statement=None,
    )
    seen = [m.id for m in opinions + critiques]
    drafts = await mediator_phase(run, phases["draft"], r, context, seen, med.drafts)
    written = [d for d in drafts if d.ok]
    if not written:
        reasons = "; ".join(sorted({d.error or "" for d in drafts}))
        raise DebateError(f"round {r}, phase 'draft': the mediator wrote no draft ({reasons})")
    by_id = {d.id.rsplit(".", 1)[-1]: d for d in written}  # 'mediator-1', ...
    texts = {key: d.text for key, d in by_id.items()}
    agg = run.spec.aggregation
    merged = (
        merge_answers(texts, agg.merge_threshold, question=state.question)
        if agg.merge
        else [Candidate(k, t, (k,)) for k, t in texts.items()]
    )
    ballots = await cast_ballots(run, state, phases["rank"], merged)
    outcome = tally(run, ballots, merged, await weighting_for(run, state.question), rule=med.rule)
    mediation = {
        "mediator": med.name,
        "model": run.personas[run.turns.neutral_name()].model,
        "drafts": [d.id for d in drafts],
    }
    if outcome.no_winner is not None:  # the agents chose no draft: nothing to critique or revise
        mediation.update(winning_draft=None, statement="", revised=False, revision_error=None)
        run.record.emit(outcome.model_copy(update={"mediation": mediation}), sync=True)
        return
    chosen = by_id[outcome.winner]
    replies = await run.turns.speak(state, phases["critique_draft"], shown=[chosen])
    critiqued = [m for m in replies if m.ok]
    context = context.model_copy(
        update={"statement": chosen.text, "critiques": [run.turns.view(m) for m in critiqued]}
    )
    (revision,) = await mediator_phase(
        run, phases["revise_draft"], r, context, [chosen.id] + [m.id for m in critiqued], 1, greedy=True
    )
    final = revision.text if revision.ok else chosen.text
    mediation.update(
        winning_draft=chosen.id, statement=chosen.text, revised=revision.ok, revision_error=revision.error
    )
    run.record.emit(outcome.model_copy(update={"answer": final, "mediation": mediation}), sync=True)


async def mediator_phase(
    run: RunContext,
    phase: PhaseSpec,
    r: int,
    context: MediatorContext,
    seen: list[str],
    count: int,
    greedy: bool = False,
) -> list[MessageEvent]:
    """``count`` replies from the mediator to one prompt, each sampled with its own seed (greedy: one reply, decoded
    greedily)."""
    med = run.spec.mediation
    assert med is not None
    variables = context.variables()
    messages = (
        ChatMessage("system", run.protocol.mediator_template.render(**variables)),
        ChatMessage("user", run.protocol.templates[phase.name].render(**variables)),
    )
    return await run.turns.neutral(
        phase,
        r,
        messages,
        [f"{med.name}-{k}" for k in range(1, count + 1)] if count > 1 else [med.name],
        speaker=med.name,
        kind="draft" if phase.name == "draft" else phase.kind,
        recipients=list(run.order),
        seen=seen,
        max_new_tokens=phase.max_new_tokens or med.max_new_tokens,
        temperature=0.0 if greedy else med.temperature,
        top_p=1.0 if greedy else med.top_p,
        answered=True,
    )

"""The engine: runs a protocol's rounds and phases over the interaction graph, concurrently.

For each phase, every agent's turn starts at once (``asyncio.gather``); model work happens in backend worker
threads, so the event loop stays free; each turn has its own timeout; a failed turn is recorded and the phase goes
on unless fewer than the protocol's quorum of agents answered. Every event is appended to the transcript as it
happens.
"""

from __future__ import annotations

import asyncio
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import networkx as nx

from .backends.base import Backend, ChatMessage, GenerationRequest, ScoreRequest
from .ballots import parse_approval, parse_ranking
from .candidates import Candidate, merge_answers
from .dissent import dissent, value_conflict
from .errors import AgoraError, DebateError
from .graph import in_neighbours, out_neighbours
from .persona import Persona
from .phases import (
    ballot_order,
    derive_seed,
    extract_answer,
    message_context,
    message_id,
    persona_context,
    prompt_hash,
)
from .protocol import PhaseSpec, Protocol
from .stopping import budget_spent, consensus
from .transcript import (
    BallotEvent,
    EndEvent,
    Header,
    MessageEvent,
    OutcomeEvent,
    PhaseEvent,
    StopEvent,
    Transcript,
    TranscriptWriter,
    canonical_hash,
)
from .voting import Ballot, aggregate

DEFAULT_VOTE_TOKENS = 24


@dataclass(frozen=True)
class Progress:
    """A progress notice: ``stage`` is 'loading', 'phase', 'turn', 'phase-done', 'stop', 'outcome'."""

    stage: str
    round: int = 0
    rounds: int = 0
    phase: str = ""
    done: int = 0
    total: int = 0
    elapsed_s: float = 0.0
    agent: str = ""
    detail: str = ""


ProgressCallback = Callable[[Progress], None]


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for dist in ("agora", "pydantic", "networkx", "jinja2", "torch", "transformers"):
        if dist in ("torch", "transformers") and dist not in sys.modules:
            continue
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


class Engine:
    """Runs one debate. Built by :class:`agora.Debate`; use that instead."""

    def __init__(
        self,
        personas: list[Persona],
        protocol: Protocol,
        graph: nx.DiGraph,
        backends: dict[str, Backend],
        seed: int,
        progress: ProgressCallback | None = None,
    ):
        self.personas = {p.name: p for p in personas}
        self.order = [p.name for p in personas]
        self.protocol = protocol
        self.spec = protocol.spec
        self.graph = graph
        self.backends = backends  # persona name -> backend
        self.seed = seed
        self.progress = progress or (lambda p: None)
        self.transcript = Transcript()
        self._writer: TranscriptWriter | None = None

    # -- events ------------------------------------------------------------------------------------------------
    def _emit(self, event: Any, *, sync: bool = False) -> None:
        self.transcript.append(event)
        if self._writer is not None:
            self._writer.write(event, sync=sync)

    def _header(self, question: str) -> Header:
        personas = [self.personas[n].model_dump(mode="json") for n in self.order]
        edges = sorted((str(u), str(v)) for u, v in self.graph.edges())
        spec = self.spec.model_dump(mode="json")
        models: dict[str, dict[str, Any]] = {}
        for name in self.order:
            backend = self.backends[name]
            models.setdefault(self.personas[name].model, backend.describe())
        config = {
            "protocol": spec,
            "personas": personas,
            "graph": edges,
            "question": question,
            "seed": self.seed,
        }
        return Header(
            protocol=self.spec.name,
            protocol_spec=spec,
            config_hash=canonical_hash(config),
            seed=self.seed,
            question=question,
            agents=list(self.order),
            personas=personas,
            graph=edges,
            models=models,
            versions=library_versions(),
            timing={"started_at": time.time()},
        )

    # -- running -----------------------------------------------------------------------------------------------
    async def run(self, question: str, out: Any = None) -> Transcript:
        start = time.perf_counter()
        unique = {id(b): b for b in self.backends.values()}
        self.progress(Progress("loading", detail=", ".join(sorted({b.name for b in unique.values()}))))
        await asyncio.gather(*(b.warm_up() for b in unique.values()))
        header = self._header(question)  # built before the file opens: a failure here writes nothing
        if out is not None:
            self._writer = TranscriptWriter(out)
        try:
            self._emit(header, sync=True)
            await self._rounds(question)
        except BaseException as exc:
            message = str(exc) if isinstance(exc, AgoraError) else f"{type(exc).__name__}: {exc}"
            self._emit(
                EndEvent(status="failed", error=message, timing={"duration_s": time.perf_counter() - start})
            )
            self._close()
            if isinstance(exc, AgoraError) or not isinstance(exc, Exception):
                raise
            raise DebateError(f"debate failed: {message}") from exc
        self._emit(
            EndEvent(status="completed", timing={"duration_s": time.perf_counter() - start}), sync=True
        )
        self._close()
        return self.transcript

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _rounds(self, question: str) -> None:
        rounds = self.spec.rounds
        latest: dict[str, MessageEvent] = {}  # each agent's latest successful proposal or revision
        previous: dict[str, MessageEvent] = {}  # messages of the previous phase, by sender
        answers: list[dict[str, MessageEvent]] = []  # ``latest`` after each proposal or revision phase
        for r in range(1, rounds + 1):
            stop = None
            for phase in self.spec.phases:
                if not phase.runs_in(r, rounds):
                    continue
                if phase.kind == "vote":
                    await self._vote(question, phase, r, latest)
                    continue
                messages = await self._phase(question, phase, r, previous, latest)
                previous = {m.agent: m for m in messages}
                if phase.kind in ("propose", "revise"):
                    latest.update({m.agent: m for m in messages if m.ok})
                    answers.append(dict(latest))
                stop = self._budget_spent()
                if stop:
                    break
            if stop is None and r < rounds:
                stop = self._consensus(answers)
            if stop is not None:
                await self._stop_early(question, r, stop, latest)
                return

    # -- early stopping (agora.stopping) ----------------------------------------------------------------------
    def _completion_tokens(self) -> int:
        return sum(e.completion_tokens for e in self.transcript.events if isinstance(e, MessageEvent))

    def _budget_spent(self) -> str | None:
        return budget_spent(self.spec.stop.max_tokens, self._completion_tokens())

    def _consensus(self, answers: list[dict[str, MessageEvent]]) -> str | None:
        return consensus(
            self.spec.stop.consensus, answers, len(self.order), self.spec.aggregation.merge_threshold
        )

    async def _stop_early(self, question: str, r: int, reason: str, latest: dict[str, MessageEvent]) -> None:
        """Record why the debate stops after round ``r`` and run the protocol's vote now."""
        self._emit(StopEvent(round=r, reason=reason, completion_tokens=self._completion_tokens()), sync=True)
        self.progress(Progress("stop", r, self.spec.rounds, detail=reason))
        for phase in self.spec.phases:
            if phase.kind == "vote":
                await self._vote(question, phase, r, latest)

    def _context(
        self,
        question: str,
        persona: Persona,
        r: int,
        phase: PhaseSpec,
        own: MessageEvent | None,
        inbox: list[MessageEvent],
    ) -> dict[str, Any]:
        return {
            "question": question,
            "persona": persona_context(persona),
            "round": r,
            "rounds": self.spec.rounds,
            "phase": phase.name,
            "agents": list(self.order),
            "own": message_context(own) if own is not None else None,
            "inbox": [message_context(m) for m in inbox],
        }

    def _request(
        self,
        persona: Persona,
        phase: PhaseSpec,
        r: int,
        context: dict[str, Any],
        default_tokens: int | None = None,
    ) -> GenerationRequest:
        system = self.protocol.system_template.render(**context)
        user = self.protocol.templates[phase.name].render(**context)
        gen = persona.generation
        return GenerationRequest(
            messages=(ChatMessage("system", system), ChatMessage("user", user)),
            max_new_tokens=phase.max_new_tokens or default_tokens or gen.max_new_tokens,
            temperature=gen.temperature,
            top_p=gen.top_p,
            seed=derive_seed(gen.seed if gen.seed is not None else self.seed, persona.name, r, phase.name),
            agent=persona.name,
            phase=phase.name,
        )

    async def _call(self, name: str, request: GenerationRequest) -> tuple[Any, str | None, float]:
        """Ask the agent's backend, with the protocol's timeout. Returns (generation, error, seconds)."""
        start = time.perf_counter()
        try:
            gen = await asyncio.wait_for(self.backends[name].generate(request), self.spec.timeout_s)
        except asyncio.TimeoutError:
            return None, f"timed out after {self.spec.timeout_s:g} s", time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - one agent's fault must not end the debate
            return None, f"{type(exc).__name__}: {exc}", time.perf_counter() - start
        if not gen.text.strip():
            return gen, "empty reply", time.perf_counter() - start
        return gen, None, time.perf_counter() - start

    async def _turn(
        self,
        question: str,
        phase: PhaseSpec,
        r: int,
        name: str,
        inbox: list[MessageEvent],
        own: MessageEvent | None,
    ) -> MessageEvent:
        persona = self.personas[name]
        request = self._request(persona, phase, r, self._context(question, persona, r, phase, own, inbox))
        gen, error, seconds = await self._call(name, request)
        text = gen.text.strip() if gen is not None else ""
        return MessageEvent(
            id=message_id(r, phase.name, name),
            round=r,
            phase=phase.name,
            kind=phase.kind,
            agent=name,
            model=persona.model,
            recipients=out_neighbours(self.graph, name),
            seen=[m.id for m in inbox] + ([own.id] if own is not None else []),
            prompt_hash=prompt_hash(request.messages),
            text=text,
            answer=extract_answer(text, self.spec.answer_max_chars) if error is None else "",
            prompt_tokens=gen.prompt_tokens if gen is not None else 0,
            completion_tokens=gen.completion_tokens if gen is not None else 0,
            finish_reason=gen.finish_reason if gen is not None else None,
            error=error,
            timing={"latency_s": round(seconds, 4), "batch_size": gen.batch_size if gen is not None else 0},
        )

    def _check_quorum(self, r: int, phase: str, answered: int) -> None:
        total = len(self.order)
        if answered < self.spec.quorum * total:
            raise DebateError(
                f"round {r}, phase {phase!r}: only {answered} of {total} agents answered, "
                f"below the protocol's quorum of {self.spec.quorum:.0%}"
            )

    async def _phase(
        self,
        question: str,
        phase: PhaseSpec,
        r: int,
        previous: dict[str, MessageEvent],
        latest: dict[str, MessageEvent],
    ) -> list[MessageEvent]:
        start = time.perf_counter()
        total = len(self.order)
        self.progress(Progress("phase", r, self.spec.rounds, phase.name, 0, total))
        done = 0

        async def one(name: str) -> MessageEvent:
            nonlocal done
            inbox = [previous[u] for u in in_neighbours(self.graph, name) if u in previous and previous[u].ok]
            message = await self._turn(question, phase, r, name, inbox, latest.get(name))
            done += 1
            self.progress(
                Progress(
                    "turn",
                    r,
                    self.spec.rounds,
                    phase.name,
                    done,
                    total,
                    time.perf_counter() - start,
                    agent=name,
                    detail=message.error or "",
                )
            )
            return message

        messages = await asyncio.gather(*(one(n) for n in self.order))
        for m in messages:
            self._emit(m)
        answered = [m.agent for m in messages if m.ok]
        failed = [m.agent for m in messages if not m.ok]
        elapsed = time.perf_counter() - start
        self._emit(
            PhaseEvent(
                round=r,
                phase=phase.name,
                kind=phase.kind,
                answered=answered,
                failed=failed,
                timing={"duration_s": round(elapsed, 4)},
            ),
            sync=True,
        )
        self.progress(
            Progress(
                "phase-done",
                r,
                self.spec.rounds,
                phase.name,
                len(answered),
                total,
                elapsed,
                detail=f"{len(failed)} failed" if failed else "",
            )
        )
        self._check_quorum(r, phase.name, len(answered))
        return list(messages)

    def _candidates(self, latest: dict[str, MessageEvent]) -> list[Candidate]:
        """Every agent's latest answer, with answers that say the same merged into one candidate."""
        answers = {n: latest[n].answer or latest[n].text[:200] for n in self.order if n in latest}
        agg = self.spec.aggregation
        if not agg.merge:
            return [Candidate(n, a, (n,)) for n, a in answers.items()]
        return merge_answers(answers, agg.merge_threshold)

    async def _vote(self, question: str, phase: PhaseSpec, r: int, latest: dict[str, MessageEvent]) -> None:
        start = time.perf_counter()
        merged = self._candidates(latest)
        candidates = [c.id for c in merged]
        answers = {c.id: c.answer for c in merged}
        if not candidates:
            raise DebateError("no agent has an answer to vote on")
        if len(candidates) > 26:
            raise DebateError(
                f"ranked ballots support at most 26 candidates, this debate has {len(candidates)}"
            )
        total = len(self.order)
        self.progress(Progress("phase", r, self.spec.rounds, phase.name, 0, total))
        done = 0

        async def one(name: str) -> BallotEvent:
            nonlocal done
            persona = self.personas[name]
            labels = ballot_order(candidates, self.seed, name)
            context = self._context(question, persona, r, phase, latest.get(name), [])
            context["candidates"] = [{"label": lab, "text": answers[c]} for lab, c in labels.items()]
            request = self._request(persona, phase, r, context, DEFAULT_VOTE_TOKENS)
            if phase.ballot == "own":
                ballot = self._own_ballot(name, merged, labels)
            elif phase.ballot == "scored":
                ballot = await self._scored_ballot(name, request, merged, labels)
            else:
                ballot = await self._generated_ballot(
                    name, request, labels, approval=phase.ballot == "approval"
                )
            done += 1
            self.progress(
                Progress(
                    "turn",
                    r,
                    self.spec.rounds,
                    phase.name,
                    done,
                    total,
                    time.perf_counter() - start,
                    agent=name,
                    detail=ballot.error or "",
                )
            )
            return ballot

        ballot_events = await asyncio.gather(*(one(n) for n in self.order))
        for b in ballot_events:
            self._emit(b)
        valid = [b for b in ballot_events if b.ranking]
        elapsed = time.perf_counter() - start
        self._emit(
            PhaseEvent(
                round=r,
                phase=phase.name,
                kind=phase.kind,
                answered=[b.agent for b in valid],
                failed=[b.agent for b in ballot_events if not b.ranking],
                timing={"duration_s": round(elapsed, 4)},
            ),
            sync=True,
        )
        abstained = len(ballot_events) - len(valid)
        self.progress(
            Progress(
                "phase-done",
                r,
                self.spec.rounds,
                phase.name,
                len(valid),
                total,
                elapsed,
                detail=f"{abstained} abstained or failed" if abstained else "",
            )
        )
        self._check_quorum(r, phase.name, len(valid))
        self._emit(self._outcome(valid, merged), sync=True)

    async def _generated_ballot(
        self, name: str, request: GenerationRequest, labels: dict[str, str], approval: bool = False
    ) -> BallotEvent:
        """The voter writes a ranking (or, for approval, the answers it accepts) of the labelled answers; the reply
        is parsed robustly, every fallback noted."""
        weight = self.personas[name].weight
        gen, error, seconds = await self._call(name, request)
        timing = {"latency_s": round(seconds, 4)}
        if error is not None:
            return BallotEvent(
                agent=name,
                weight=weight,
                labels=labels,
                ranking=[],
                raw=gen.text if gen else "",
                parse="error",
                error=error,
                timing=timing,
            )
        parsed = (parse_approval if approval else parse_ranking)(gen.text, list(labels))
        ranking = [[labels[lab] for lab in tier] for tier in parsed.ranking]
        return BallotEvent(
            agent=name,
            weight=weight,
            labels=labels,
            ranking=ranking,
            raw=gen.text,
            parse=parsed.method,
            notes=parsed.notes,
            approved=ranking[0] if approval and ranking else None,
            timing=timing,
        )

    def _own_ballot(self, name: str, merged: list[Candidate], labels: dict[str, str]) -> BallotEvent:
        """The voter ranks the candidate that holds its own latest answer first and ties the rest (no model
        call): counted by plurality, this is a plain majority vote over the agents' answers."""
        weight = self.personas[name].weight
        mine = next((c.id for c in merged if name in c.members), None)
        if mine is None:
            return BallotEvent(
                agent=name,
                weight=weight,
                labels=labels,
                ranking=[],
                parse="own",
                error="no answer of its own",
            )
        rest = [c.id for c in merged if c.id != mine]
        ranking = [[mine], rest] if rest else [[mine]]
        return BallotEvent(agent=name, weight=weight, labels=labels, ranking=ranking, parse="own")

    async def _scored_ballot(
        self, name: str, request: GenerationRequest, merged: list[Candidate], labels: dict[str, str]
    ) -> BallotEvent:
        """The voter's model scores every candidate answer as its own reply; utilities are the softmax of the
        mean log-probability per token over the candidates, and the ranking follows them."""
        persona = self.personas[name]
        scoring = ScoreRequest(
            request.messages, tuple(c.answer for c in merged), agent=name, phase=request.phase
        )
        start = time.perf_counter()
        try:
            scores = await asyncio.wait_for(self.backends[name].score(scoring), self.spec.timeout_s)
            error = None
        except asyncio.TimeoutError:
            error = f"timed out after {self.spec.timeout_s:g} s"
        except Exception as exc:  # noqa: BLE001 - one voter's fault must not end the debate
            error = f"{type(exc).__name__}: {exc}"
        timing = {"latency_s": round(time.perf_counter() - start, 4)}
        if error is not None:
            return BallotEvent(
                agent=name,
                weight=persona.weight,
                labels=labels,
                ranking=[],
                parse="error",
                error=error,
                timing=timing,
            )
        means = dict(zip((c.id for c in merged), scores.mean_logprobs, strict=True))
        top = max(means.values())
        exp = {c: math.exp(v - top) for c, v in means.items()}
        total = sum(exp.values())
        utilities = {c: round(e / total, 6) for c, e in exp.items()}
        ballot = Ballot.of(name, (), utilities=utilities)
        return BallotEvent(
            agent=name,
            weight=persona.weight,
            labels=labels,
            ranking=[list(t) for t in ballot.ranking],
            parse="scored",
            utilities=utilities,
            logprobs={c: round(v, 6) for c, v in means.items()},
            timing=timing,
        )

    def _outcome(self, ballots: list[BallotEvent], merged: list[Candidate]) -> OutcomeEvent:
        candidates = [c.id for c in merged]
        answers = {c.id: c.answer for c in merged}
        agg = self.spec.aggregation
        counted = [
            Ballot.of(b.agent, b.ranking, b.weight, utilities=b.utilities, approved=b.approved)
            for b in ballots
        ]
        main = aggregate(counted, candidates, agg.rule, weighted=agg.weighted, seed=self.seed)
        scores = {main.rule: main.scores}
        winners_by_rule = {main.rule: main.winners}
        for rule in agg.report:
            if rule not in scores:
                other = aggregate(counted, candidates, rule, weighted=agg.weighted, seed=self.seed)
                scores[rule] = other.scores
                winners_by_rule[rule] = other.winners
        dissenters = [b.voter for b in counted if main.winner is not None and main.winner not in b.top]
        outcome = OutcomeEvent(
            rule=main.rule,
            weighted=agg.weighted,
            winner=main.winner,
            answer=answers[main.winner] if main.winner else "",
            ranking=main.ranking,
            tied_winners=main.tied_winners,
            tie_break=main.tie_break,
            scores=scores,
            winners_by_rule=winners_by_rule,
            candidates=answers,
            members={c.id: list(c.members) for c in merged},
            dissenters=dissenters,
            dissent=dissent(counted, main.winner, main.scores),
            value_conflict=value_conflict(
                counted, main.winner, {n: dict(p.normalised_values) for n, p in self.personas.items()}
            ),
            voters=len(counted),
        )
        self.progress(Progress("outcome", detail=outcome.answer))
        return outcome

"""The engine: runs a protocol's rounds and phases over the interaction graph, concurrently.

For each phase, every agent's turn starts at once (``asyncio.gather``); model work happens in backend worker
threads, so the event loop stays free; each turn has its own timeout; a failed turn is recorded and the phase goes
on unless fewer than the protocol's quorum of agents answered. Every event is appended to the transcript as it
happens.

Agent faults: a backend that raises, runs past the protocol's ``timeout_s``, returns something that is not a
:class:`~agora.backends.base.Generation`, returns empty text, or returns a proposal with no readable answer or a
ballot with no readable ranking, gives a failed turn (``error`` says why). The phase goes on; when fewer agents than
the quorum answered, the debate fails with a message naming the round, the phase and the failed agents.
"""

from __future__ import annotations

import asyncio
import math
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import networkx as nx

from agora.aggregation.ballot import Ballot
from agora.aggregation.candidates import Candidate, merge_answers
from agora.aggregation.dissent import dissent, value_conflict
from agora.aggregation.outcome import aggregate
from agora.aggregation.parse import parse_approval, parse_ranking
from agora.aggregation.relevance import agent_weights, measure_relevance
from agora.backends.base import Backend, ChatMessage, GenerationRequest, ScoreRequest
from agora.errors import AgoraError, ConfigError, DebateError
from agora.graph import in_neighbours, out_neighbours
from agora.persona import Persona
from agora.protocol.contexts import message_context, persona_context
from agora.protocol.loader import Protocol
from agora.protocol.spec import PhaseSpec
from agora.run.answers import extract_answer
from agora.run.checkpoint import Checkpoint, quorum_needed
from agora.run.record import message_id, prompt_hash
from agora.run.seeds import ballot_order, derive_seed
from agora.run.stopping import budget_spent, consensus
from agora.run.verdict import parse_verdict
from agora.transcript import (
    BallotEvent,
    EndEvent,
    Header,
    MessageEvent,
    OutcomeEvent,
    PhaseEvent,
    StopEvent,
    Transcript,
    TranscriptWriter,
    config_hash,
)

DEFAULT_VOTE_TOKENS = 24


def _reply_fields(gen: Any, error: str | None, seconds: float) -> dict[str, Any]:
    """The fields of a message that come from the backend's reply (zero or empty when there was none)."""
    return {
        "prompt_tokens": gen.prompt_tokens if gen is not None else 0,
        "completion_tokens": gen.completion_tokens if gen is not None else 0,
        "finish_reason": gen.finish_reason if gen is not None else None,
        "error": error,
        "timing": {"latency_s": round(seconds, 4), "batch_size": gen.batch_size if gen is not None else 0},
    }


@dataclass(frozen=True)
class _Weighting:
    """Value-weighted voting: agent -> weight, value -> relevance, or why they could not be measured."""

    weights: dict[str, float]
    relevance: dict[str, float]
    error: str | None


@dataclass(frozen=True)
class Progress:
    """A progress notice: ``stage`` is 'loading', 'phase', 'turn', 'phase-done', 'stop', 'relevance', 'outcome'."""

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
#: reads a canonical answer from a reply, or None when it finds none
AnswerReader = Callable[[str], str | None]


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


#: a readable answer has at least one letter or digit
_READABLE = re.compile(r"\w")


def fault_reason(exc: BaseException) -> str:
    """One line saying why an agent's turn failed."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def generation_problem(gen: object) -> str | None:
    """Why a backend's reply cannot be used, or None when it is a well-formed :class:`Generation`."""
    text = getattr(gen, "text", None)
    if not isinstance(text, str):
        return f"the backend returned {type(gen).__name__}, not a Generation with text"
    for field in ("prompt_tokens", "completion_tokens"):
        value = getattr(gen, field, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return f"the backend returned an invalid {field}: {value!r}"
    finish = getattr(gen, "finish_reason", None)
    if finish is not None and not isinstance(finish, str):
        return f"the backend returned an invalid finish_reason: {finish!r}"
    return None


def describe_failures(failures: dict[str, str], limit: int = 8, reason_chars: int = 80) -> str:
    """``agent (reason), ...`` for a quorum error: at most ``limit`` agents, each reason cut short."""
    parts = []
    for agent, reason in list(failures.items())[:limit]:
        reason = reason if len(reason) <= reason_chars else reason[: reason_chars - 1] + "…"
        parts.append(f"{agent} ({reason})" if reason else agent)
    if len(failures) > limit:
        parts.append(f"and {len(failures) - limit} more")
    return ", ".join(parts)


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
        read_answer: AnswerReader | None = None,
    ):
        self.personas = {p.name: p for p in personas}
        #: reads a canonical answer from a reply (a task's answer extraction); answers it reads merge only when
        #: identical. None: the short answer of agora.run.answers.extract_answer, merged by similarity
        self.read_answer = read_answer
        self.order = [p.name for p in personas]
        self._agents = tuple(self.order)  # one shared copy for every prompt context, not one per agent
        #: agent -> role, for protocols that give roles (in debate order)
        self._roles: dict[str, str] = dict(zip(self.order, protocol.spec.roles, strict=False))
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

    def _sources(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Where the configuration came from, so that a resumed debate can load it again and check it."""
        protocol = self.protocol
        return {
            "protocol": str(protocol.source.resolve()) if protocol.source else None,
            "protocol_dir": str(protocol.directory.resolve()),
            "overrides": {k: spec[k] for k in protocol.overrides if k in spec},
            "personas": {
                n: str(Path(p._source).resolve()) if p._source else None for n, p in self.personas.items()
            },
        }

    def _header(self, question: str) -> Header:
        personas = [self.personas[n].model_dump(mode="json") for n in self.order]
        edges = sorted((str(u), str(v)) for u, v in self.graph.edges())
        spec = self.spec.model_dump(mode="json")
        templates = self.protocol.template_hashes()
        models: dict[str, dict[str, Any]] = {}
        for name in self.order:
            backend = self.backends[name]
            models.setdefault(self.personas[name].model, backend.describe())
        return Header(
            protocol=self.spec.name,
            protocol_spec=spec,
            config_hash=config_hash(spec, personas, edges, question, self.seed, templates),
            seed=self.seed,
            question=question,
            agents=list(self.order),
            personas=personas,
            graph=edges,
            models=models,
            versions=library_versions(),
            templates=templates,
            sources=self._sources(spec),
            timing={"started_at": time.time()},
        )

    # -- running -----------------------------------------------------------------------------------------------
    async def run(self, question: str, out: Any = None, resume: Checkpoint | None = None) -> Transcript:
        """Run the debate; with ``resume``, keep its events and run only the phases it does not hold.

        A resumed transcript is first written to ``out`` whole (atomically: a temporary file renamed into place),
        then appended to as the debate goes on.
        """
        start = time.perf_counter()
        unique = {id(b): b for b in self.backends.values()}
        self.progress(Progress("loading", detail=", ".join(sorted({b.name for b in unique.values()}))))
        await asyncio.gather(*(b.warm_up() for b in unique.values()))
        if resume is None:
            header = self._header(question)  # built before the file opens: a failure here writes nothing
            if out is not None:
                self._writer = TranscriptWriter(out)
        else:
            self._check_models(resume.header)  # before anything is written
            self.transcript = Transcript(list(resume.events))
            if out is not None:
                self.transcript.save(out)
                self._writer = TranscriptWriter(out, append=True)
        try:
            if resume is None:
                self._emit(header, sync=True)
            await self._rounds(question, set(resume.done) if resume is not None else set())
        except BaseException as exc:
            message = str(exc) if isinstance(exc, AgoraError) else fault_reason(exc)
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

    def _check_models(self, header: Header) -> None:
        """Refuse to resume on a model file other than the one the debate started with."""
        for name in self.order:
            model = self.personas[name].model
            recorded = header.models.get(model, {}).get("sha256")
            current = self.backends[name].describe().get("sha256")
            if recorded and current and recorded != current:
                raise ConfigError(
                    f"model {model!r} is not the one the debate started with "
                    f"(sha256 {current[:12]}, recorded {recorded[:12]}); cannot resume",
                    source=self.personas[name].source,
                    field="model",
                )

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _rounds(self, question: str, done: set[tuple[int, str]]) -> None:
        """Run every phase of every round, except those in ``done``, whose messages the transcript already holds."""
        rounds = self.spec.rounds
        latest: dict[str, MessageEvent] = {}  # each agent's latest successful proposal or revision
        previous: dict[str, MessageEvent] = {}  # messages of the previous phase, by sender
        answers: list[dict[str, MessageEvent]] = []  # ``latest`` after each proposal or revision phase
        for r in range(1, rounds + 1):
            stop = None
            for phase in self.spec.phases:
                if not phase.runs_in(r, rounds):
                    continue
                if phase.kind == "judge":
                    if await self._judge_round(question, phase, r, previous, latest, done):
                        return
                    continue  # the debaters hear each other, not the judge
                if (r, phase.name) in done:
                    if phase.kind == "vote":
                        continue
                    messages = self.transcript.phase_messages(r, phase.name)
                elif phase.kind == "vote":
                    await self._vote(question, phase, r, latest)
                    continue
                else:
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
                await self._stop_early(question, r, stop, previous, latest)
                return
        if self.spec.mediation is not None:
            await self._mediate(question, rounds, previous, latest)

    # -- early stopping (agora.run.stopping) ----------------------------------------------------------------------
    def _completion_tokens(self) -> int:
        return sum(e.completion_tokens for e in self.transcript.events if isinstance(e, MessageEvent))

    def _budget_spent(self) -> str | None:
        return budget_spent(self.spec.stop.max_tokens, self._completion_tokens())

    def _consensus(self, answers: list[dict[str, MessageEvent]]) -> str | None:
        return consensus(
            self.spec.stop.consensus,
            answers,
            len(self.order),
            self.spec.aggregation.merge_threshold,
            exact=self.read_answer is not None,
        )

    async def _stop_early(
        self,
        question: str,
        r: int,
        reason: str,
        previous: dict[str, MessageEvent],
        latest: dict[str, MessageEvent],
    ) -> None:
        """Record why the debate stops after round ``r`` and run the protocol's vote (or mediation) now."""
        self._emit(StopEvent(round=r, reason=reason, completion_tokens=self._completion_tokens()), sync=True)
        self.progress(Progress("stop", r, self.spec.rounds, detail=reason))
        if self.spec.mediation is not None:
            await self._mediate(question, r, previous, latest)
            return
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
            "agents": self._agents,
            "own": message_context(own) if own is not None else None,
            "inbox": [message_context(m) for m in inbox],
            "role": self._roles.get(persona.name),
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

    async def _call(
        self, name: str, request: GenerationRequest, backend: Backend | None = None
    ) -> tuple[Any, str | None, float]:
        """Ask the agent's backend (or ``backend``), with the protocol's timeout. Returns (generation, error,
        seconds)."""
        start = time.perf_counter()
        backend = backend or self.backends[name]
        try:
            gen = await asyncio.wait_for(backend.generate(request), self.spec.timeout_s)
        except asyncio.TimeoutError:
            return None, f"timed out after {self.spec.timeout_s:g} s", time.perf_counter() - start
        except Exception as exc:  # noqa: BLE001 - one agent's fault must not end the debate
            return None, fault_reason(exc), time.perf_counter() - start
        problem = generation_problem(gen)
        if problem is not None:
            return None, problem, time.perf_counter() - start
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
        answer = self._answer(text) if error is None else ""
        if error is None and phase.kind in ("propose", "revise") and not _READABLE.search(answer):
            error = "no answer could be read from the reply"
            answer = ""
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
            answer=answer,
            **_reply_fields(gen, error, seconds),
        )

    def _close_phase(
        self,
        phase: PhaseSpec,
        r: int,
        start: float,
        turns: list[MessageEvent] | list[BallotEvent],
        *,
        names: list[str] | None = None,
        check_quorum: bool = True,
    ) -> list[str]:
        """Record a phase's turns and its closing event (synced to disk), report progress, enforce the quorum.

        ``names`` labels the turns when they are not one per agent (the mediator's drafts). Returns the agents (or
        names) that answered (for a vote: whose ballot counts).
        """
        for event in turns:
            self._emit(event)
        labels = names if names is not None else [t.agent for t in turns]
        counts = {
            n: (t.ok if isinstance(t, MessageEvent) else bool(t.ranking))
            for n, t in zip(labels, turns, strict=True)
        }
        answered = [a for a, ok in counts.items() if ok]
        failed = [a for a, ok in counts.items() if not ok]
        elapsed = time.perf_counter() - start
        kind = turns[0].kind if turns and isinstance(turns[0], MessageEvent) else phase.kind
        self._emit(
            PhaseEvent(
                round=r,
                phase=phase.name,
                kind=kind,
                answered=answered,
                failed=failed,
                timing={"duration_s": round(elapsed, 4)},
            ),
            sync=True,
        )
        word = "abstained or failed" if phase.kind == "vote" else "failed"
        self.progress(
            Progress(
                "phase-done",
                r,
                self.spec.rounds,
                phase.name,
                len(answered),
                len(labels) if names is not None else len(self.order),
                elapsed,
                detail=f"{len(failed)} {word}" if failed else "",
            )
        )
        if check_quorum:
            self._check_quorum(
                r, phase.name, len(answered), {t.agent: t.error or "" for t in turns if t.agent in failed}
            )
        return answered

    def _check_quorum(
        self, r: int, phase: str, answered: int, failures: dict[str, str] | None = None
    ) -> None:
        total = len(self.order)
        need = quorum_needed(self.spec.quorum, total)
        if answered < need:
            raise DebateError(
                f"round {r}, phase {phase!r}: only {answered} of {total} agents answered, "
                f"below the protocol's quorum of {self.spec.quorum:.0%} ({need} needed)"
                + (f"; failed: {describe_failures(failures)}" if failures else "")
            )

    async def _phase(
        self,
        question: str,
        phase: PhaseSpec,
        r: int,
        previous: dict[str, MessageEvent],
        latest: dict[str, MessageEvent],
        shown: list[MessageEvent] | None = None,
    ) -> list[MessageEvent]:
        """One phase for every agent. Each sees its in-neighbours' messages from ``previous``, or ``shown`` when
        given (the same messages for everyone)."""
        start = time.perf_counter()
        total = len(self.order)
        self.progress(Progress("phase", r, self.spec.rounds, phase.name, 0, total))
        done = 0

        async def one(name: str, earlier: dict[str, MessageEvent] | None = None) -> MessageEvent:
            nonlocal done
            if shown is not None:
                inbox = list(shown)
            else:
                senders = in_neighbours(self.graph, name)
                inbox = [previous[u] for u in senders if u in previous and previous[u].ok]
                if earlier:  # sequential turns: what in-neighbours said earlier in this phase
                    inbox += [earlier[u] for u in senders if u in earlier and earlier[u].ok]
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

        if phase.turns == "sequential":
            messages: list[MessageEvent] = []
            for n in self.order:
                messages.append(await one(n, {m.agent: m for m in messages}))
        else:
            messages = list(await asyncio.gather(*(one(n) for n in self.order)))
        self._close_phase(phase, r, start, messages)
        return messages

    def _answer(self, text: str) -> str:
        """A reply's answer: what ``read_answer`` reads from it, else (or when it reads nothing) its short answer;
        an unreadable reply keeps its first sentence, so it can still stand as a candidate."""
        read = self.read_answer(text) if self.read_answer is not None else None
        return read or extract_answer(text, self.spec.answer_max_chars)

    def _candidates(self, latest: dict[str, MessageEvent]) -> list[Candidate]:
        """Every agent's latest answer, with answers that say the same merged into one candidate."""
        answers = {n: latest[n].answer or latest[n].text[:200] for n in self.order if n in latest}
        agg = self.spec.aggregation
        if not agg.merge:
            return [Candidate(n, a, (n,)) for n, a in answers.items()]
        return merge_answers(answers, agg.merge_threshold, exact=self.read_answer is not None)

    async def _vote(self, question: str, phase: PhaseSpec, r: int, latest: dict[str, MessageEvent]) -> None:
        merged = self._candidates(latest)
        if not merged:
            raise DebateError("no agent has an answer to vote on")
        valid = await self._ballots(question, phase, r, latest, merged)
        weighting = await self._value_weights(question) if self.spec.aggregation.by_values else None
        self._emit(self._outcome(valid, merged, weighting), sync=True)

    async def _ballots(
        self,
        question: str,
        phase: PhaseSpec,
        r: int,
        latest: dict[str, MessageEvent],
        merged: list[Candidate],
    ) -> list[BallotEvent]:
        """Every agent's ballot over the candidates, emitted with the phase's closing event; returns the valid
        ballots (the phase fails below the quorum)."""
        start = time.perf_counter()
        candidates = [c.id for c in merged]
        answers = {c.id: c.answer for c in merged}
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
            try:
                if phase.ballot == "own":
                    ballot = self._own_ballot(name, merged, labels)
                elif phase.ballot == "scored":
                    ballot = await self._scored_ballot(name, request, merged, labels)
                else:
                    ballot = await self._generated_ballot(
                        name, request, labels, approval=phase.ballot == "approval"
                    )
            except Exception as exc:  # noqa: BLE001 - one voter's fault must not end the debate
                ballot = BallotEvent(
                    agent=name,
                    weight=persona.weight,
                    labels=labels,
                    ranking=[],
                    parse="error",
                    error=fault_reason(exc),
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

        ballot_events = list(await asyncio.gather(*(one(n) for n in self.order)))
        self._close_phase(phase, r, start, ballot_events)
        return [b for b in ballot_events if b.ranking]

    # -- mediator synthesis -------------------------------------------------------------------------------------
    async def _mediate(
        self, question: str, r: int, previous: dict[str, MessageEvent], latest: dict[str, MessageEvent]
    ) -> None:
        """Drafts from the mediator, the agents' ranking of them, the chosen draft's critique and one revision."""
        med = self.spec.mediation
        assert med is not None
        phases = self.protocol.mediation_phases()
        opinions = [latest[n] for n in self.order if n in latest]
        if not opinions:
            raise DebateError("no agent has an answer for the mediator to work from")
        critiques = [m for m in previous.values() if m.kind == "critique" and m.ok]
        context = {
            "question": question,
            "round": r,
            "opinions": [message_context(m) for m in opinions],
            "critiques": [message_context(m) for m in critiques],
            "statement": None,
        }
        seen = [m.id for m in opinions + critiques]
        drafts = await self._mediator_phase(phases["draft"], r, context, seen, med.drafts)
        written = [d for d in drafts if d.ok]
        if not written:
            reasons = "; ".join(sorted({d.error or "" for d in drafts}))
            raise DebateError(f"round {r}, phase 'draft': the mediator wrote no draft ({reasons})")
        by_id = {d.id.rsplit(".", 1)[-1]: d for d in written}  # 'mediator-1', ...
        texts = {key: d.text for key, d in by_id.items()}
        agg = self.spec.aggregation
        merged = (
            merge_answers(texts, agg.merge_threshold)
            if agg.merge
            else [Candidate(k, t, (k,)) for k, t in texts.items()]
        )
        ballots = await self._ballots(question, phases["rank"], r, latest, merged)
        weighting = await self._value_weights(question) if agg.by_values else None
        outcome = self._outcome(ballots, merged, weighting, rule=med.rule)
        chosen = by_id[outcome.winner] if outcome.winner else written[0]
        replies = await self._phase(question, phases["critique_draft"], r, {}, latest, shown=[chosen])
        critiqued = [m for m in replies if m.ok]
        context.update(statement=chosen.text, critiques=[message_context(m) for m in critiqued])
        (revision,) = await self._mediator_phase(
            phases["revise_draft"], r, context, [chosen.id] + [m.id for m in critiqued], 1, greedy=True
        )
        final = revision.text if revision.ok else chosen.text
        mediation = {
            "mediator": med.name,
            "model": self.personas[self._judge_name()].model,
            "drafts": [d.id for d in drafts],
            "winning_draft": chosen.id,
            "statement": chosen.text,
            "revised": revision.ok,
            "revision_error": revision.error,
        }
        self._emit(outcome.model_copy(update={"answer": final, "mediation": mediation}), sync=True)

    async def _mediator_phase(
        self,
        phase: PhaseSpec,
        r: int,
        context: dict[str, Any],
        seen: list[str],
        count: int,
        greedy: bool = False,
    ) -> list[MessageEvent]:
        """``count`` replies from the mediator to one prompt, each sampled with its own seed (greedy: one reply,
        decoded greedily)."""
        med = self.spec.mediation
        assert med is not None
        messages = (
            ChatMessage("system", self.protocol.mediator_template.render(**context)),
            ChatMessage("user", self.protocol.templates[phase.name].render(**context)),
        )
        return await self._neutral_phase(
            phase,
            r,
            messages,
            [f"{med.name}-{k}" for k in range(1, count + 1)] if count > 1 else [med.name],
            speaker=med.name,
            kind="draft" if phase.name == "draft" else phase.kind,
            recipients=list(self.order),
            seen=seen,
            max_new_tokens=phase.max_new_tokens or med.max_new_tokens,
            temperature=0.0 if greedy else med.temperature,
            top_p=1.0 if greedy else med.top_p,
            answered=True,
        )

    async def _neutral_phase(
        self,
        phase: PhaseSpec,
        r: int,
        messages: tuple[ChatMessage, ...],
        names: list[str],
        *,
        speaker: str,
        kind: str,
        recipients: list[str],
        seen: list[str],
        max_new_tokens: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        answered: bool = False,
    ) -> list[MessageEvent]:
        """A phase of the neutral role (mediator or judge), which holds no persona and runs on the model most
        personas use: one reply to ``messages`` per name, each seeded by its name, emitted with the phase's closing
        event. ``answered``: a reply's text is also its answer."""
        start = time.perf_counter()
        self.progress(Progress("phase", r, self.spec.rounds, phase.name, 0, len(names)))
        requests = [
            GenerationRequest(
                messages=messages,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=derive_seed(self.seed, name, r, phase.name),
                agent=name,
                phase=phase.name,
            )
            for name in names
        ]
        backend = self._judge()
        results = await asyncio.gather(*(self._call(speaker, q, backend) for q in requests))
        model = self.personas[self._judge_name()].model
        events = []
        for name, (gen, error, seconds) in zip(names, results, strict=True):
            text = gen.text.strip() if gen is not None else ""
            events.append(
                MessageEvent(
                    id=message_id(r, phase.name, name),
                    round=r,
                    phase=phase.name,
                    kind=kind,
                    agent=speaker,
                    model=model,
                    recipients=list(recipients),
                    seen=list(seen),
                    prompt_hash=prompt_hash(messages),
                    text=text,
                    answer=text if answered and error is None else "",
                    **_reply_fields(gen, error, seconds),
                )
            )
        self._close_phase(phase, r, start, events, names=names, check_quorum=False)
        return events

    # -- judged debates ---------------------------------------------------------------------------------------------
    async def _judge_round(
        self,
        question: str,
        phase: PhaseSpec,
        r: int,
        previous: dict[str, MessageEvent],
        latest: dict[str, MessageEvent],
        done: set[tuple[int, str]],
    ) -> bool:
        """The judge reads this round's messages and decides, or lets the debate go on (never after the last
        round). Returns True when the debate is decided and its outcome written."""
        final = r == self.spec.rounds
        if (r, phase.name) in done:
            (message,) = self.transcript.phase_messages(r, phase.name)
        else:
            message = await self._judge_turn(question, phase, r, list(previous.values()), final)
        verdict = parse_verdict(message.text, self._roles, final) if message.ok else None
        winner = verdict.winner if verdict is not None else None
        if winner is None and not final:
            return False
        if not final:
            reason = f"the judge decided after round {r}"
            self._emit(
                StopEvent(round=r, reason=reason, completion_tokens=self._completion_tokens()), sync=True
            )
            self.progress(Progress("stop", r, self.spec.rounds, detail=reason))
        answers = {n: latest[n].answer for n in self.order if n in latest}
        others = [n for n in answers if n != winner]
        judgement = {
            "judge": message.agent,
            "round": r,
            "verdict": message.text,
            "method": verdict.method if verdict is not None else "error",
            "error": message.error,
            "decided_early": not final,
        }
        self._emit(
            OutcomeEvent(
                rule="judge",
                weighted=False,
                winner=winner,
                answer=answers.get(winner, "") if winner else "",
                ranking=[[winner], others]
                if winner and others
                else [[winner]]
                if winner
                else [list(answers)],
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
        self.progress(
            Progress("outcome", detail=answers.get(winner, "no decision") if winner else "no decision")
        )
        return True

    async def _judge_turn(
        self, question: str, phase: PhaseSpec, r: int, heard: list[MessageEvent], final: bool
    ) -> MessageEvent:
        """One greedy reply from the neutral judge (the model most personas use), recorded as the phase."""
        shown = [m for m in heard if m.ok]
        context = {
            "question": question,
            "round": r,
            "rounds": self.spec.rounds,
            "inbox": [message_context(m) for m in shown],
            "roles": dict(self._roles),
            "final": final,
        }
        messages = (ChatMessage("user", self.protocol.templates[phase.name].render(**context)),)
        (message,) = await self._neutral_phase(
            phase,
            r,
            messages,
            ["judge"],
            speaker="judge",
            kind="judge",
            recipients=[],
            seen=[m.id for m in shown],
            max_new_tokens=phase.max_new_tokens or DEFAULT_VOTE_TOKENS,
        )
        return message

    def _judge_name(self) -> str:
        """The first agent (in debate order) on the model most personas use."""
        models = [self.personas[n].model for n in self.order]
        common = max(models, key=lambda m: (models.count(m), -models.index(m)))
        return next(n for n in self.order if self.personas[n].model == common)

    def _judge(self) -> Backend:
        """The backend of the model most personas use (ties: the first in debate order): one judge for all."""
        return self.backends[self._judge_name()]

    async def _value_weights(self, question: str) -> _Weighting:
        """Each agent's value-weighted voting weight (agora.aggregation.relevance). A judge that cannot score leaves every
        ballot at its plain weight, and the reason is recorded in the outcome."""
        agg = self.spec.aggregation
        stated = {n: dict(self.personas[n].normalised_values) for n in self.order}
        values = sorted({v for vals in stated.values() for v in vals})
        self.progress(Progress("relevance", detail=f"{len(values)} stated values"))
        try:
            measured = await asyncio.wait_for(
                measure_relevance(self._judge(), question, values), self.spec.timeout_s
            )
        except asyncio.TimeoutError:
            return _Weighting({}, {}, f"timed out after {self.spec.timeout_s:g} s")
        except Exception as exc:  # noqa: BLE001 - the vote still stands, with equal weights
            return _Weighting({}, {}, f"{type(exc).__name__}: {exc}")
        weights = agent_weights(stated, measured.relevance, agg.relevance_floor)
        return _Weighting(
            {n: round(w, 6) for n, w in weights.items()},
            {v: round(x, 6) for v, x in measured.relevance.items()},
            None,
        )

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
            error=f"unreadable ballot: {parsed.notes[0]}" if not ranking and parsed.notes else None,
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
        means: dict[str, float] = {}
        try:
            scores = await asyncio.wait_for(self.backends[name].score(scoring), self.spec.timeout_s)
            values = [float(v) for v in scores.mean_logprobs]
            if len(values) != len(merged):
                error = f"the backend scored {len(values)} answers of {len(merged)}"
            elif not all(math.isfinite(v) for v in values):
                error = "the backend returned a score that is not a finite number"
            else:
                error = None
                means = dict(zip((c.id for c in merged), values, strict=True))
        except asyncio.TimeoutError:
            error = f"timed out after {self.spec.timeout_s:g} s"
        except Exception as exc:  # noqa: BLE001 - one voter's fault must not end the debate
            error = fault_reason(exc)
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

    def _outcome(
        self,
        ballots: list[BallotEvent],
        merged: list[Candidate],
        weighting: _Weighting | None = None,
        rule: str | None = None,
    ) -> OutcomeEvent:
        candidates = [c.id for c in merged]
        answers = {c.id: c.answer for c in merged}
        agg = self.spec.aggregation
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
        main = aggregate(counted, candidates, rule, weighted=weighted, seed=self.seed)
        scores = {main.rule: main.scores}
        winners_by_rule = {main.rule: main.winners}
        for rule in agg.report:
            if rule not in scores:
                other = aggregate(counted, candidates, rule, weighted=weighted, seed=self.seed)
                scores[rule] = other.scores
                winners_by_rule[rule] = other.winners
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
                counted, main.winner, {n: dict(p.normalised_values) for n, p in self.personas.items()}
            ),
            voters=len(counted),
            weights=by_value,
            relevance=weighting.relevance if weighting is not None else {},
            weighting_error=weighting.error if weighting is not None else None,
        )
        self.progress(Progress("outcome", detail=outcome.answer))
        return outcome

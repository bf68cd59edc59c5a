"""Agent turns: what one agent is shown and asked, its backend called with the protocol's timeout, its reply checked
and recorded as a message; and the same for every agent of a phase at once (or one after another).

Agent faults: a backend that raises, runs past the protocol's ``timeout_s``, returns something that is not a
:class:`~agora.backends.base.Generation`, returns empty text, or returns a proposal with no readable answer, gives a
failed turn (``error`` says why); the phase goes on, and the quorum decides whether the debate does.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from agora.backends.base import Backend, ChatMessage, Generation, GenerationRequest
from agora.graph import in_neighbours, out_neighbours
from agora.persona import Persona
from agora.protocol.contexts import AgentContext, MessageView, PersonaView
from agora.protocol.spec import PhaseSpec, phase_kind
from agora.run.answers import extract_answer
from agora.run.record import Recorder, message_id, prompt_hash
from agora.run.seeds import derive_seed
from agora.run.setup import Setup
from agora.run.state import RoundState
from agora.transcript import MessageEvent

#: a readable answer has at least one letter or digit
_READABLE = re.compile(r"\w")

T = TypeVar("T", bound=Any)


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


@dataclass(frozen=True)
class Reply:
    """What a backend call gave: the generation (None when there was none), why it cannot be used, how long it took."""

    gen: Generation | None
    error: str | None
    seconds: float

    @property
    def text(self) -> str:
        return self.gen.text.strip() if self.gen is not None else ""

    def fields(self) -> dict[str, Any]:
        """The fields of a message that come from the reply (zero or empty when there was none)."""
        gen = self.gen
        return {
            "prompt_tokens": gen.prompt_tokens if gen is not None else 0,
            "completion_tokens": gen.completion_tokens if gen is not None else 0,
            "finish_reason": gen.finish_reason if gen is not None else None,
            "error": self.error,
            "timing": {
                "latency_s": round(self.seconds, 4),
                "batch_size": gen.batch_size if gen is not None else 0,
            },
        }


class Turns:
    """Asks a run's agents (and its neutral judge or mediator) for replies."""

    def __init__(self, setup: Setup, record: Recorder):
        self.setup = setup
        self.record = record
        self._personas: dict[str, PersonaView] = {}
        self._messages: dict[str, MessageView] = {}  # message id -> view: built once, shown to many agents

    # -- what an agent sees ------------------------------------------------------------------------------------------
    def view(self, m: MessageEvent) -> MessageView:
        view = self._messages.get(m.id)
        if view is None or view.text != m.text:
            view = self._messages[m.id] = MessageView.of(m)
        return view

    def context(
        self,
        state: RoundState,
        persona: Persona,
        phase: PhaseSpec,
        own: MessageEvent | None,
        inbox: Sequence[MessageEvent],
        **extra: Any,
    ) -> AgentContext:
        """``persona``'s context in ``phase``: the phase's context model, with ``extra`` fields (a ballot's
        candidates)."""
        setup = self.setup
        if persona.name not in self._personas:
            self._personas[persona.name] = PersonaView.of(persona)
        context: type[AgentContext] = setup.protocol.context_of(phase)  # type: ignore[assignment]
        return context(
            question=state.question,
            persona=self._personas[persona.name],
            round=state.round,
            rounds=setup.spec.rounds,
            phase=phase.name,
            agents=setup.agents,
            own=self.view(own) if own is not None else None,
            inbox=[self.view(m) for m in inbox],
            role=setup.roles.get(persona.name),
            **extra,
        )

    def request(
        self,
        persona: Persona,
        phase: PhaseSpec,
        r: int,
        context: AgentContext,
        default_tokens: int | None = None,
    ) -> GenerationRequest:
        """The chat prompt for ``persona``: the protocol's system template, then the phase's template."""
        protocol = self.setup.protocol
        variables = context.variables()
        system = protocol.system_template.render(**variables)
        user = protocol.templates[phase.name].render(**variables)
        gen = persona.generation
        return GenerationRequest(
            messages=(ChatMessage("system", system), ChatMessage("user", user)),
            max_new_tokens=phase.max_new_tokens or default_tokens or gen.max_new_tokens,
            temperature=gen.temperature,
            top_p=gen.top_p,
            seed=derive_seed(
                gen.seed if gen.seed is not None else self.setup.seed, persona.name, r, phase.name
            ),
            agent=persona.name,
            phase=phase.name,
        )

    # -- asking ------------------------------------------------------------------------------------------------------
    async def call(self, name: str, request: GenerationRequest, backend: Backend | None = None) -> Reply:
        """Ask the agent's backend (or ``backend``), with the protocol's timeout."""
        start = time.perf_counter()
        backend = backend or self.setup.backends[name]
        timeout = self.setup.spec.timeout_s
        try:
            gen = await asyncio.wait_for(backend.generate(request), timeout)
        except asyncio.TimeoutError:
            return Reply(None, f"timed out after {timeout:g} s", time.perf_counter() - start)
        except Exception as exc:  # noqa: BLE001 - one agent's fault must not end the debate
            return Reply(None, fault_reason(exc), time.perf_counter() - start)
        problem = generation_problem(gen)
        if problem is not None:
            return Reply(None, problem, time.perf_counter() - start)
        if not gen.text.strip():
            return Reply(gen, "empty reply", time.perf_counter() - start)
        return Reply(gen, None, time.perf_counter() - start)

    def answer(self, text: str) -> str:
        """A reply's answer: what the run's ``read_answer`` reads from it, else (or when it reads nothing) its short
        answer; an unreadable reply keeps its first sentence, so it can still stand as a candidate."""
        read = self.setup.read_answer(text) if self.setup.read_answer is not None else None
        return read or extract_answer(text, self.setup.spec.answer_max_chars)

    async def turn(
        self,
        state: RoundState,
        phase: PhaseSpec,
        name: str,
        inbox: list[MessageEvent],
        own: MessageEvent | None,
    ) -> MessageEvent:
        """One agent's turn in ``phase``, recorded as a message (failed turns too)."""
        setup = self.setup
        persona = setup.personas[name]
        request = self.request(persona, phase, state.round, self.context(state, persona, phase, own, inbox))
        reply = await self.call(name, request)
        text = reply.text
        answer = self.answer(text) if reply.error is None else ""
        if reply.error is None and phase_kind(phase.kind).answers and not _READABLE.search(answer):
            reply = Reply(reply.gen, "no answer could be read from the reply", reply.seconds)
            answer = ""
        return MessageEvent(
            id=message_id(state.round, phase.name, name),
            round=state.round,
            phase=phase.name,
            kind=phase.kind,
            agent=name,
            model=persona.model,
            recipients=out_neighbours(setup.graph, name),
            seen=[m.id for m in inbox] + ([own.id] if own is not None else []),
            prompt_hash=prompt_hash(request.messages),
            text=text,
            answer=answer,
            **reply.fields(),
        )

    async def each(
        self,
        phase: PhaseSpec,
        r: int,
        names: Sequence[str],
        one: Callable[[str, list[T]], Awaitable[T]],
        *,
        sequential: bool = False,
    ) -> list[T]:
        """``one(name, earlier)`` for every name, all at once (``earlier`` empty) or one after another (``earlier``:
        the turns so far), with a progress notice as the phase starts and after each turn."""
        record = self.record
        start = time.perf_counter()
        total = len(names)
        record.notify("phase", r, phase.name, 0, total)
        done = 0

        async def counted(name: str, earlier: list[T]) -> T:
            nonlocal done
            result = await one(name, earlier)
            done += 1
            elapsed = time.perf_counter() - start
            record.notify(
                "turn", r, phase.name, done, total, elapsed_s=elapsed, agent=name, detail=result.error or ""
            )
            return result

        if sequential:
            results: list[T] = []
            for name in names:
                results.append(await counted(name, list(results)))
            return results
        return list(await asyncio.gather(*(counted(name, []) for name in names)))

    async def speak(
        self, state: RoundState, phase: PhaseSpec, shown: list[MessageEvent] | None = None
    ) -> list[MessageEvent]:
        """Every agent's turn in ``phase``, recorded and closed. Each hears its in-neighbours' messages of the previous
        phase, or ``shown`` when given (the same messages for everyone); in sequential phases also what its
        in-neighbours said earlier in this phase."""
        setup = self.setup
        start = time.perf_counter()

        async def one(name: str, earlier: list[MessageEvent]) -> MessageEvent:
            if shown is not None:
                inbox = list(shown)
            else:
                senders = in_neighbours(setup.graph, name)
                previous = state.previous
                inbox = [previous[u] for u in senders if u in previous and previous[u].ok]
                said = {m.agent: m for m in earlier}
                inbox += [said[u] for u in senders if u in said and said[u].ok]
            return await self.turn(state, phase, name, inbox, state.latest.get(name))

        messages = await self.each(
            phase, state.round, setup.order, one, sequential=phase.turns == "sequential"
        )
        self.record.close_phase(
            phase, state.round, start, messages, failed_word=phase_kind(phase.kind).failed_word
        )
        return messages

    # -- the neutral role (judge, mediator) --------------------------------------------------------------------------
    def neutral_name(self) -> str:
        """The first agent (in debate order) on the model most personas use."""
        setup = self.setup
        models = [setup.personas[n].model for n in setup.order]
        common = max(models, key=lambda m: (models.count(m), -models.index(m)))
        return next(n for n in setup.order if setup.personas[n].model == common)

    def neutral_backend(self) -> Backend:
        """The backend of the model most personas use (ties: the first in debate order): one judge for all."""
        return self.setup.backends[self.neutral_name()]

    async def neutral(
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
        setup = self.setup
        start = time.perf_counter()
        self.record.notify("phase", r, phase.name, 0, len(names))
        requests = [
            GenerationRequest(
                messages=messages,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=derive_seed(setup.seed, name, r, phase.name),
                agent=name,
                phase=phase.name,
            )
            for name in names
        ]
        backend = self.neutral_backend()
        replies = await asyncio.gather(*(self.call(speaker, q, backend) for q in requests))
        model = setup.personas[self.neutral_name()].model
        events = [
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
                text=reply.text,
                answer=reply.text if answered and reply.error is None else "",
                **reply.fields(),
            )
            for name, reply in zip(names, replies, strict=True)
        ]
        self.record.close_phase(phase, r, start, events, names=names, check_quorum=False)
        return events

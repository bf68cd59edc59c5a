"""Fault injection: wrap any backend so that chosen agents' calls fail in a chosen way. For tests and drills.

backend = FaultyBackend(TransformersBackend(), {"enterprise": Fault("hang"), "libertas": Fault("raise")})

Kinds: ``raise`` (the call raises), ``hang`` (the call never returns; the protocol's ``timeout_s`` ends it),
``empty`` (empty text), ``garbage`` (text with no answer and no ballot letters in it; for scoring, scores that are
not numbers). Every other call goes to the wrapped backend unchanged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from agora.backends.base import Backend, Generation, GenerationRequest, ScoreRequest, Scores

FaultKind = Literal["raise", "hang", "empty", "garbage"]
GARBAGE = "... --- ### ??? !!!"


class InjectedFault(RuntimeError):
    """What a ``raise`` fault raises."""


@dataclass(frozen=True)
class Fault:
    """How an agent's calls fail, and in which phases (by phase name; ``None``: every phase)."""

    kind: FaultKind
    phases: frozenset[str] | None = None
    message: str = "injected fault"

    def applies(self, phase: str | None) -> bool:
        return self.phases is None or phase in self.phases


class FaultyBackend(Backend):
    """Delegates to ``inner``, except for the faults given per agent name. Injected faults are kept in
    :attr:`injected` as (agent, phase, kind)."""

    def __init__(self, inner: Backend, faults: dict[str, Fault]):
        self.inner = inner
        self.name = inner.name
        self.faults = dict(faults)
        self.injected: list[tuple[str | None, str | None, str]] = []

    def _fault(self, agent: str | None, phase: str | None) -> Fault | None:
        fault = self.faults.get(agent or "")
        if fault is None or not fault.applies(phase):
            return None
        self.injected.append((agent, phase, fault.kind))
        return fault

    async def _fail(self, fault: Fault, agent: str | None) -> None:
        if fault.kind == "raise":
            raise InjectedFault(f"{fault.message} for agent {agent!r}")
        if fault.kind == "hang":
            await asyncio.Event().wait()  # never set: only a timeout (a cancellation) ends this call

    async def generate(self, request: GenerationRequest) -> Generation:
        fault = self._fault(request.agent, request.phase)
        if fault is None:
            return await self.inner.generate(request)
        await self._fail(fault, request.agent)
        text = "" if fault.kind == "empty" else GARBAGE
        return Generation(text=text, completion_tokens=len(text.split()))

    async def score(self, request: ScoreRequest) -> Scores:
        fault = self._fault(request.agent, request.phase)
        if fault is None:
            return await self.inner.score(request)
        await self._fail(fault, request.agent)
        n = len(request.continuations)
        value = float("nan") if fault.kind == "garbage" else 0.0
        count = 0 if fault.kind == "empty" else n  # 'empty': scores for none of the continuations
        return Scores(logprobs=(value,) * count, tokens=(1,) * count)

    async def warm_up(self) -> None:
        await self.inner.warm_up()

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()

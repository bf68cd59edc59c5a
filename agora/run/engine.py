"""The engine: runs a protocol's rounds over the interaction graph, handing each phase to its kind.

For each round, each phase that runs in it goes to its kind (:mod:`agora.protocol.spec`; the built-ins are in
:mod:`agora.run.kinds`), which asks the agents (all at once, their model work batched in backend worker threads so the
event loop stays free), records what they return and closes the phase. After each phase whose messages are heard,
the token budget is checked; after each round, the protocol's consensus rule. A debate that stops early runs its
vote (or mediation) at once. Every event is appended to the transcript as it happens (:mod:`agora.run.record`).

A failed turn is recorded with why (:mod:`agora.run.turns`) and the phase goes on; when fewer agents than the quorum
answered, the debate fails with a message naming the round, the phase and the failed agents.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agora.errors import AgoraError, ConfigError, DebateError
from agora.protocol.spec import phase_kind
from agora.run import kinds as _kinds  # noqa: F401  (registers the built-in phase kinds)
from agora.run.checkpoint import Checkpoint
from agora.run.context import RunContext
from agora.run.mediation import mediate
from agora.run.record import Progress, ProgressCallback, build_header
from agora.run.setup import AnswerReader
from agora.run.state import RoundState
from agora.run.stopping import budget_spent, consensus
from agora.run.turns import fault_reason
from agora.transcript import EndEvent, Header, StopEvent, Transcript, TranscriptWriter

__all__ = ["AnswerReader", "Engine", "Progress", "ProgressCallback"]


class Engine(RunContext):
    """Runs one debate. Built by :class:`agora.Debate`; use that instead."""

    @property
    def transcript(self) -> Transcript:
        return self.record.transcript

    # -- running -----------------------------------------------------------------------------------------------
    async def run(self, question: str, out: Any = None, resume: Checkpoint | None = None) -> Transcript:
        """Run the debate; with ``resume``, keep its events and run only the phases it does not hold.

        A resumed transcript is first written to ``out`` whole (atomically: a temporary file renamed into place),
        then appended to as the debate goes on.
        """
        record = self.record
        start = time.perf_counter()
        unique = {id(b): b for b in self.backends.values()}
        record.notify("loading", detail=", ".join(sorted({b.name for b in unique.values()})))
        await asyncio.gather(*(b.warm_up() for b in unique.values()))
        if resume is None:
            header = build_header(
                self, question
            )  # built before the file opens: a failure here writes nothing
            if out is not None:
                record.writer = TranscriptWriter(out)
        else:
            self._check_models(resume.header)  # before anything is written
            record.transcript = Transcript(list(resume.events))
            if out is not None:
                record.writer = TranscriptWriter.resuming(out, record.transcript.events)
        try:
            if resume is None:
                record.emit(header, sync=True)
            await self._rounds(question, set(resume.done) if resume is not None else set())
        except BaseException as exc:
            message = str(exc) if isinstance(exc, AgoraError) else fault_reason(exc)
            record.emit(
                EndEvent(status="failed", error=message, timing={"duration_s": time.perf_counter() - start})
            )
            record.close()
            if isinstance(exc, AgoraError) or not isinstance(exc, Exception):
                raise
            raise DebateError(f"debate failed: {message}") from exc
        record.emit(
            EndEvent(status="completed", timing={"duration_s": time.perf_counter() - start}), sync=True
        )
        record.close()
        return record.transcript

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

    async def _rounds(self, question: str, done: set[tuple[int, str]]) -> None:
        """Run every phase of every round, except those in ``done``, whose events the transcript already holds."""
        rounds = self.spec.rounds
        state = RoundState(question)
        for r in range(1, rounds + 1):
            state.round = r
            stop = None
            for phase in self.spec.phases:
                if not phase.runs_in(r, rounds):
                    continue
                kind = phase_kind(phase.kind)
                if (r, phase.name) in done:
                    decided = await kind.replay(self, state, phase)
                else:
                    decided = await kind.run(self, state, phase)
                if decided:
                    return
                if not kind.heard:
                    continue
                stop = budget_spent(self.spec.stop.max_tokens, self.record.completion_tokens())
                if stop:
                    break
            if stop is None and r < rounds:
                stop = consensus(
                    self.spec.stop.consensus,
                    state.answers,
                    len(self.order),
                    self.spec.aggregation.merge_threshold,
                    exact=self.read_answer is not None,
                    question=question,
                )
            if stop is not None:
                await self._stop_early(state, stop, done)
                return
        if self.spec.mediation is not None:
            await mediate(self, state)

    async def _stop_early(self, state: RoundState, reason: str, done: set[tuple[int, str]]) -> None:
        """Record why the debate stops after this round and run the protocol's vote (or mediation) now. A resumed
        transcript that holds the stop already keeps it, and a vote it holds is not run again."""
        r = state.round
        record = self.record
        if not any(isinstance(e, StopEvent) and e.round == r for e in record.transcript.events):
            record.emit(
                StopEvent(round=r, reason=reason, completion_tokens=record.completion_tokens()), sync=True
            )
        record.notify("stop", r, detail=reason)
        if self.spec.mediation is not None:
            await mediate(self, state)
            return
        for phase in self.spec.phases:
            kind = phase_kind(phase.kind)
            if kind.tallies:
                await (kind.replay if (r, phase.name) in done else kind.run)(self, state, phase)

"""The Python API: build a debate from persona cards, a protocol and a graph, then run it.

>>> from agora import Debate, load_personas
>>> debate = Debate(load_personas(), protocol="debate", seed=0)
>>> result = debate.run_sync("Should cities ban cars from their centres?", out="debate.jsonl")
>>> print(result.answer, result.tally)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from agora.aggregation.registry import get_rule
from agora.backends import Backend, resolve_backend
from agora.errors import ConfigError
from agora.graph import build_graph, check_graph
from agora.persona import Persona, load_personas
from agora.protocol.loader import Protocol, load_protocol
from agora.run.checkpoint import Checkpoint
from agora.run.engine import AnswerReader, Engine, ProgressCallback
from agora.run.kinds.vote import LETTER_BALLOTS, MAX_LETTER_CANDIDATES
from agora.transcript import OutcomeEvent, Transcript, html_view

MAX_QUESTION_CHARS = 4000
#: the most agents one debate may have (their prompts, turns and ballots all grow with it)
MAX_AGENTS = 5_000


@dataclass
class DebateResult:
    """What a debate produced: the final answer, the tallies, and the full transcript."""

    transcript: Transcript
    path: Path | None = None

    @property
    def outcome(self) -> OutcomeEvent:
        outcome = self.transcript.outcome
        if outcome is None:
            raise ValueError("this debate produced no outcome")
        return outcome

    @property
    def answer(self) -> str:
        return self.outcome.answer

    @property
    def winner(self) -> str | None:
        return self.outcome.winner

    @property
    def robustness(self) -> dict[str, Any]:
        """How robust the winner is: Condorcet winner or cycle, rules agreeing, the fewest ballots that flip it,
        leave-one-out (see :mod:`agora.aggregation.robustness`; empty when there is no winner)."""
        return self.outcome.robustness

    @property
    def tally(self) -> dict[str, dict[str, float]]:
        """Rule -> candidate -> score."""
        return self.outcome.scores

    def _repr_html_(self) -> str | None:
        """Notebook display: the transcript's summary and outcome (see :func:`agora.views.html.transcript_html`)."""
        return html_view(self.transcript)

    def __str__(self) -> str:
        o = self.outcome
        return f"{o.answer} (proposed by {o.winner}; {o.rule}, {o.voters} ballots)"


def check_question(question: object) -> str:
    if not isinstance(question, str) or not question.strip():
        raise ConfigError("the question is empty", field="question")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise ConfigError(
            f"the question has {len(question)} characters, more than {MAX_QUESTION_CHARS}", field="question"
        )
    return question


class Debate:
    """A configured debate between personas.

    Args:
        personas: persona objects, or card files / directories to load them from.
        protocol: a shipped protocol name, a spec path, or a loaded :class:`Protocol`.
        graph: a networkx graph over persona names (default: the protocol's graph spec).
        seed: the run's seed; every random choice derives from it.
        rounds: overrides the protocol's number of rounds.
        backends: model reference -> backend, overriding how personas' models are resolved.
        backend: one backend for every persona (for example a :class:`~agora.ScriptedBackend`).
        progress: called with :class:`~agora.run.engine.Progress` notices as the debate runs.
    """

    def __init__(
        self,
        personas: Sequence[Persona] | Sequence[str | Path] | str | Path | None = None,
        protocol: str | Path | Protocol = "debate",
        *,
        graph: nx.Graph | None = None,
        seed: int = 0,
        rounds: int | None = None,
        backends: dict[str, Backend] | None = None,
        backend: Backend | None = None,
        progress: ProgressCallback | None = None,
    ):
        if personas is None or isinstance(personas, (str, Path)):
            personas = load_personas(personas)
        elif personas and not isinstance(personas[0], Persona):
            personas = load_personas(personas)  # type: ignore[arg-type]
        self.personas: list[Persona] = list(personas)  # type: ignore[arg-type]
        if not self.personas:
            raise ConfigError("a debate needs at least one persona", field="personas")
        if len(self.personas) > MAX_AGENTS:
            raise ConfigError(
                f"a debate has at most {MAX_AGENTS} agents, got {len(self.personas)}", field="personas"
            )
        names = [p.name for p in self.personas]
        for name in names:
            if names.count(name) > 1:
                raise ConfigError(f"duplicate persona name {name!r}", field="personas")
        self.protocol = protocol if isinstance(protocol, Protocol) else load_protocol(protocol)
        if rounds is not None:
            self.protocol = self.protocol.with_overrides(rounds=rounds)
        spec = self.protocol.spec
        source = str(self.protocol.source) if self.protocol.source else None
        get_rule(spec.aggregation.rule, source=source)
        for rule in spec.aggregation.report:
            get_rule(rule, source=source, field="aggregation.report")
        written = [p for p in spec.phases if p.kind == "vote" and p.ballot in LETTER_BALLOTS]
        if written and not spec.aggregation.merge and len(names) > MAX_LETTER_CANDIDATES:
            raise ConfigError(
                f"vote phase {written[0].name!r} asks for a written ballot over every agent's answer (merge: false), "
                f"which names at most {MAX_LETTER_CANDIDATES} answers by letter; got {len(names)} agents "
                "(use ballot: scored or own, or merge answers)",
                source=source,
                field="phases",
            )
        if spec.roles and len(names) != len(spec.roles):
            raise ConfigError(
                f"protocol {spec.name!r} gives roles to exactly {len(spec.roles)} agents "
                f"({', '.join(spec.roles)}), got {len(names)}",
                source=source,
                field="roles",
            )
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}", field="seed")
        self.seed = seed
        if graph is None:
            self.graph = build_graph(spec.graph, names, seed=seed, source=source)
        else:
            self.graph = check_graph(graph, names)
        overrides = dict(backends or {})
        cache: dict[str, Backend] = dict(overrides)
        self.backends: dict[str, Backend] = {}
        for p in self.personas:
            self.backends[p.name] = backend if backend is not None else resolve_backend(p, cache)
        self.progress = progress

    async def run(
        self,
        question: str,
        *,
        out: str | Path | None = None,
        read_answer: AnswerReader | None = None,
        resume: Checkpoint | None = None,
    ) -> DebateResult:
        """Run the debate on ``question``; write the transcript to ``out`` as it happens, if given. With ``resume``
        (see :func:`agora.run.resume.resume`), keep the checkpoint's events and run only what they lack.

        ``read_answer(text)`` reads the canonical answer of a reply (for task items: ``agora.tasks.extract``),
        or returns None; answers it reads merge only when identical. By default an answer is the reply's
        ``Answer:`` line or first sentence, and answers that say the same merge."""
        question = check_question(question)
        engine = Engine(
            self.personas,
            self.protocol,
            self.graph,
            self.backends,
            self.seed,
            read_answer=read_answer,
            progress=self.progress,
        )
        transcript = await engine.run(question, out=out, resume=resume)
        if out is not None:
            transcript.path = Path(out)
        return DebateResult(transcript, Path(out) if out is not None else None)

    def run_sync(
        self, question: str, *, out: str | Path | None = None, read_answer: AnswerReader | None = None
    ) -> DebateResult:
        """Blocking version of :meth:`run` (not from inside a running event loop)."""
        return asyncio.run(self.run(question, out=out, read_answer=read_answer))

    def describe(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol.name,
            "rounds": self.protocol.spec.rounds,
            "agents": [p.name for p in self.personas],
            "edges": self.graph.number_of_edges(),
            "seed": self.seed,
        }

"""How a run records what happened: every event appended to the transcript (and its file) as it happens, each phase
closed with its closing event and the quorum enforced, progress notices, and the header that opens the transcript.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agora.backends.base import ChatMessage
from agora.errors import DebateError
from agora.protocol.spec import PhaseSpec, ProtocolSpec
from agora.run.checkpoint import quorum_needed
from agora.transcript import (
    BallotEvent,
    Header,
    MessageEvent,
    PhaseEvent,
    Transcript,
    TranscriptWriter,
    config_hash,
)

if TYPE_CHECKING:
    from agora.run.setup import Setup


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


def message_id(round: int, phase: str, agent: str) -> str:
    return f"r{round}.{phase}.{agent}"


def prompt_hash(messages: Sequence[ChatMessage]) -> str:
    blob = json.dumps([m.as_dict() for m in messages], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


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


def describe_failures(failures: dict[str, str], limit: int = 8, reason_chars: int = 80) -> str:
    """``agent (reason), ...`` for a quorum error: at most ``limit`` agents, each reason cut short."""
    parts = []
    for agent, reason in list(failures.items())[:limit]:
        reason = reason if len(reason) <= reason_chars else reason[: reason_chars - 1] + "…"
        parts.append(f"{agent} ({reason})" if reason else agent)
    if len(failures) > limit:
        parts.append(f"and {len(failures) - limit} more")
    return ", ".join(parts)


class Recorder:
    """The transcript of one run, its file, and the progress callback."""

    def __init__(self, spec: ProtocolSpec, agents: int, progress: ProgressCallback | None = None):
        self.spec = spec
        self.agents = agents
        self.progress = progress or (lambda p: None)
        self.transcript = Transcript()
        self.writer: TranscriptWriter | None = None

    def emit(self, event: Any, *, sync: bool = False) -> None:
        self.transcript.append(event)
        if self.writer is not None:
            self.writer.write(event, sync=sync)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def notify(
        self, stage: str, r: int = 0, phase: str = "", done: int = 0, total: int = 0, **rest: Any
    ) -> None:
        """Send a :class:`Progress` notice (``rounds`` filled in for notices about a round). A display that cannot
        write any more (its terminal or pipe closed) is dropped: it shows the debate, it is not part of it."""
        try:
            self.progress(Progress(stage, r, self.spec.rounds if r else 0, phase, done, total, **rest))
        except OSError:
            self.progress = lambda p: None

    def completion_tokens(self) -> int:
        return sum(e.completion_tokens for e in self.transcript.events if isinstance(e, MessageEvent))

    def close_phase(
        self,
        phase: PhaseSpec,
        r: int,
        start: float,
        turns: Sequence[MessageEvent] | Sequence[BallotEvent],
        *,
        failed_word: str = "failed",
        names: list[str] | None = None,
        check_quorum: bool = True,
    ) -> list[str]:
        """Record a phase's turns and its closing event (synced to disk), report progress, enforce the quorum.

        ``names`` labels the turns when they are not one per agent (the mediator's drafts). Returns the agents (or
        names) that answered (for a vote: whose ballot counts).
        """
        for event in turns:
            self.emit(event)
        labels = names if names is not None else [t.agent for t in turns]
        counts = {
            n: (t.ok if isinstance(t, MessageEvent) else bool(t.ranking))
            for n, t in zip(labels, turns, strict=True)
        }
        answered = [a for a, ok in counts.items() if ok]
        failed = [a for a, ok in counts.items() if not ok]
        elapsed = time.perf_counter() - start
        kind = turns[0].kind if turns and isinstance(turns[0], MessageEvent) else phase.kind
        timing = {"duration_s": round(elapsed, 4)}
        self.emit(
            PhaseEvent(round=r, phase=phase.name, kind=kind, answered=answered, failed=failed, timing=timing),
            sync=True,
        )
        total = len(labels) if names is not None else self.agents
        detail = f"{len(failed)} {failed_word}" if failed else ""
        self.notify("phase-done", r, phase.name, len(answered), total, elapsed_s=elapsed, detail=detail)
        if check_quorum:
            self.check_quorum(
                r, phase.name, len(answered), {t.agent: t.error or "" for t in turns if t.agent in failed}
            )
        return answered

    def check_quorum(self, r: int, phase: str, answered: int, failures: dict[str, str] | None = None) -> None:
        total = self.agents
        need = quorum_needed(self.spec.quorum, total)
        if answered < need:
            raise DebateError(
                f"round {r}, phase {phase!r}: only {answered} of {total} agents answered, "
                f"below the protocol's quorum of {self.spec.quorum:.0%} ({need} needed)"
                + (f"; failed: {describe_failures(failures)}" if failures else "")
            )


def build_header(run: Setup, question: str) -> Header:
    """The transcript's first line: the whole configuration, its hash, the seed, the models and where it came from."""
    personas = [run.personas[n].model_dump(mode="json") for n in run.order]
    edges = sorted((str(u), str(v)) for u, v in run.graph.edges())
    spec = run.spec.model_dump(mode="json")
    templates = run.protocol.template_hashes()
    models: dict[str, dict[str, Any]] = {}
    for name in run.order:
        models.setdefault(run.personas[name].model, run.backends[name].describe())
    return Header(
        protocol=run.spec.name,
        protocol_spec=spec,
        config_hash=config_hash(spec, personas, edges, question, run.seed, templates),
        seed=run.seed,
        question=question,
        agents=list(run.order),
        personas=personas,
        graph=edges,
        models=models,
        versions=library_versions(),
        templates=templates,
        sources=_sources(run, spec),
        timing={"started_at": time.time()},
    )


def _sources(run: Setup, spec: dict[str, Any]) -> dict[str, Any]:
    """Where the configuration came from, so that a resumed debate can load it again and check it."""
    protocol = run.protocol
    return {
        "protocol": str(protocol.source.resolve()) if protocol.source else None,
        "protocol_dir": str(protocol.directory.resolve()),
        "overrides": {k: spec[k] for k in protocol.overrides if k in spec},
        "personas": {
            n: str(Path(p.card_file).resolve()) if p.card_file else None for n, p in run.personas.items()
        },
    }

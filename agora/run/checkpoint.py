"""Where a killed or failed debate can continue: the events of its complete phases, and what came after them.

A phase is complete when its closing :class:`~agora.transcript.PhaseEvent` is in the file and at least the
protocol's quorum of agents answered in it; a vote phase (a kind that tallies) is complete only once its outcome
follows. Everything
after the last complete phase -- the turns of a phase that was cut short, a phase that fell below quorum, the
``failed`` end line, a cut-off last line -- is discarded, and that phase is run again from its start. Steps that
run after the protocol's rounds without being phases of its spec (a mediator's) are re-run whole.
Everything here is pure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agora.errors import TranscriptError
from agora.protocol.spec import PhaseSpec, ProtocolSpec, phase_kind
from agora.transcript import (
    BallotEvent,
    EndEvent,
    Header,
    MessageEvent,
    OutcomeEvent,
    PhaseEvent,
    StopEvent,
    Transcript,
)


def quorum_needed(quorum: float, agents: int) -> int:
    """How many of ``agents`` must answer a phase for it to count (``quorum`` is a share, 0 < quorum <= 1)."""
    return max(1, math.ceil(quorum * agents - 1e-9))  # 0.3 * 10 is 3.0000000000000004, and needs 3


def schedule(spec: ProtocolSpec) -> list[tuple[int, PhaseSpec]]:
    """Every (round, phase) a protocol runs, in order."""
    return [(r, p) for r in range(1, spec.rounds + 1) for p in spec.phases if p.runs_in(r, spec.rounds)]


@dataclass(frozen=True)
class Checkpoint:
    """What a resumed debate keeps of a transcript, and what it drops."""

    events: tuple[Any, ...]
    """the header, then every event of the complete phases, in file order"""
    done: tuple[tuple[int, str], ...]
    """the complete phases as (round, phase name), in order"""
    discarded: int
    """events read from the file after the last complete phase (they are dropped and their phase re-run)"""
    status: str
    """the transcript's status before resuming: 'incomplete' (killed) or 'failed'"""
    error: str | None
    """why it failed, if it did"""
    truncated: bool
    """whether the file ended in a cut-off line"""

    @property
    def header(self) -> Header:
        return self.events[0]

    @property
    def after(self) -> tuple[int, str] | None:
        """The last complete phase, or None when the debate starts again from its first phase."""
        return self.done[-1] if self.done else None

    def note(self, at: float) -> dict[str, Any]:
        """What the header's ``timing`` records about this resume."""
        return {
            "at": at,
            "after": list(self.after) if self.after else None,
            "kept_events": len(self.events),
            "discarded_events": self.discarded,
            "previous_status": self.status,
            "previous_error": self.error,
            "cut_off_line": self.truncated,
        }


def find_checkpoint(transcript: Transcript, spec: ProtocolSpec) -> Checkpoint:
    """The last point from which ``transcript`` (run under ``spec``) can continue.

    Raises :class:`TranscriptError` when the debate already completed or when the file's phases do not follow the
    protocol's order.
    """
    header = transcript.header
    if transcript.status == "completed":
        raise TranscriptError(
            "the debate already completed; there is nothing to resume", source=transcript.path
        )
    plan: list[tuple[int, PhaseSpec]] = schedule(spec)
    need = quorum_needed(spec.quorum, len(header.agents))
    kept: list[Any] = [header]
    pending: list[Any] = []
    done: list[tuple[int, str]] = []
    awaiting_outcome = False
    for event in transcript.events[1:]:
        if isinstance(event, EndEvent):
            break
        if isinstance(event, Header):
            raise TranscriptError("a second header in the middle of the file", source=transcript.path)
        pending.append(event)
        if isinstance(event, StopEvent):
            # the debate stopped after this round: what follows is the vote at once (or a mediator's steps)
            plan = plan[: len(done)] + [(event.round, p) for p in spec.phases if phase_kind(p.kind).tallies]
            continue
        if isinstance(event, PhaseEvent):
            step = len(done)
            if step >= len(plan):
                break  # steps after the protocol's rounds (a mediator's) run again whole
            if (event.round, event.phase) != (plan[step][0], plan[step][1].name):
                raise TranscriptError(
                    f"round {event.round}, phase {event.phase!r} is not the next phase of protocol "
                    f"{spec.name!r}; the file cannot be resumed",
                    source=transcript.path,
                )
            _check_turns(event, pending, transcript)
            tallies = phase_kind(plan[step][1].kind).tallies
            if len(event.answered) < need and not tallies:
                break  # the phase fell below quorum: it runs again (a vote names no winner instead)
            if tallies:
                awaiting_outcome = True
                continue
        elif not (isinstance(event, OutcomeEvent) and awaiting_outcome):
            continue
        round_, phase = plan[len(done)]
        kept.extend(pending)
        pending.clear()
        done.append((round_, phase.name))
        awaiting_outcome = False
    end = transcript.end
    return Checkpoint(
        events=tuple(kept),
        done=tuple(done),
        discarded=len(transcript.events) - len(kept),
        status=transcript.status,
        error=end.error if end is not None else None,
        truncated=transcript.truncated,
    )


def _check_turns(event: PhaseEvent, pending: Sequence[Any], transcript: Transcript) -> None:
    """Refuse a phase whose closing event names turns the file does not hold (a line removed by hand, say)."""
    held = {
        m.agent
        for m in pending
        if isinstance(m, MessageEvent) and (m.round, m.phase) == (event.round, event.phase)
    }
    held |= {b.agent for b in pending if isinstance(b, BallotEvent)}
    missing = [name for name in [*event.answered, *event.failed] if name not in held]
    if missing:
        raise TranscriptError(
            f"round {event.round}, phase {event.phase!r}: the turn of {', '.join(missing)} is missing from the file "
            "(its closing event names it); the file cannot be resumed",
            source=transcript.path,
        )

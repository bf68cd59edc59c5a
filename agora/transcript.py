"""Transcripts: an append-only JSON Lines log of typed events, written as the debate happens.

The first line is a :class:`Header` (protocol, config hash, seed, personas, graph, model identities, library
versions). Then one :class:`MessageEvent` per agent turn, a :class:`PhaseEvent` closing each phase, one
:class:`BallotEvent` per voter, the :class:`OutcomeEvent`, and an :class:`EndEvent`. Wall-clock facts live only in
each event's ``timing`` field, so two runs with the same seed can be compared with :meth:`Transcript.content`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import TranscriptError

FORMAT_VERSION = 1


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timing: dict[str, Any] = Field(default_factory=dict)


class Header(_Event):
    type: Literal["header"] = "header"
    format_version: int = FORMAT_VERSION
    protocol: str
    protocol_spec: dict[str, Any]
    config_hash: str
    seed: int
    question: str
    agents: list[str]
    personas: list[dict[str, Any]]
    graph: list[tuple[str, str]]
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)


class MessageEvent(_Event):
    type: Literal["message"] = "message"
    id: str
    round: int
    phase: str
    kind: str
    agent: str
    model: str
    recipients: list[str]
    seen: list[str] = Field(default_factory=list, description="ids of the messages shown to the agent")
    prompt_hash: str
    text: str = ""
    answer: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class PhaseEvent(_Event):
    type: Literal["phase"] = "phase"
    round: int
    phase: str
    kind: str
    answered: list[str]
    failed: list[str]


class BallotEvent(_Event):
    type: Literal["ballot"] = "ballot"
    agent: str
    weight: float = 1.0
    labels: dict[str, str] = Field(description="ballot label -> candidate id, as shown to the agent")
    ranking: list[list[str]] = Field(description="candidate ids, best first; each inner list is a tie")
    raw: str = ""
    parse: str = Field(description="how the ranking was read from the raw text")
    notes: list[str] = Field(default_factory=list, description="every fallback taken while parsing")
    error: str | None = None
    utilities: dict[str, float] | None = Field(
        default=None, description="scored ballots: candidate id -> utility (the voter's model's probability)"
    )
    approved: list[str] | None = Field(
        default=None, description="approval ballots: the candidate ids approved"
    )
    logprobs: dict[str, float] | None = Field(
        default=None, description="scored ballots: candidate id -> mean log-probability per token"
    )


class OutcomeEvent(_Event):
    type: Literal["outcome"] = "outcome"
    rule: str
    weighted: bool
    winner: str | None
    answer: str
    ranking: list[list[str]]
    tied_winners: list[str] = Field(default_factory=list)
    tie_break: str | None = None
    scores: dict[str, dict[str, float]] = Field(description="rule -> candidate -> score")
    winners_by_rule: dict[str, list[str]] = Field(default_factory=dict)
    candidates: dict[str, str] = Field(description="candidate id -> its answer")
    members: dict[str, list[str]] = Field(
        default_factory=dict, description="candidate id -> the agents whose answers merged into it"
    )
    dissenters: list[str] = Field(default_factory=list)
    dissent: list[dict[str, Any]] = Field(
        default_factory=list, description="per dissenter: first choice and its shortfall (agora.dissent)"
    )
    value_conflict: dict[str, Any] = Field(
        default_factory=dict, description="values of the winners' side and the opposition (agora.dissent)"
    )
    voters: int = 0


class StopEvent(_Event):
    """The debate stopped before its last round (``reason``: 'unanimous', 'stable' or 'token budget')."""

    type: Literal["stop"] = "stop"
    round: int
    reason: str
    completion_tokens: int = 0


class EndEvent(_Event):
    type: Literal["end"] = "end"
    status: Literal["completed", "failed"]
    error: str | None = None


Event = Annotated[
    Header | MessageEvent | PhaseEvent | BallotEvent | OutcomeEvent | StopEvent | EndEvent,
    Field(discriminator="type"),
]
_EVENT = TypeAdapter(Event)


def canonical_hash(data: Any) -> str:
    """sha256 of the canonical JSON form of ``data`` (sorted keys, no spaces)."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class TranscriptWriter:
    """Appends events to a JSON Lines file, flushing each line and syncing to disk at phase boundaries."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("w", encoding="utf-8")

    def write(self, event: _Event, *, sync: bool = False) -> None:
        self._fh.write(event.model_dump_json() + "\n")
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


class Transcript:
    """A debate's events, in order. Build it from a file with :meth:`load`."""

    def __init__(self, events: list[Any] | None = None, path: Path | None = None, truncated: bool = False):
        self.events: list[Any] = list(events or [])
        self.path = path
        #: True when the file's last line was cut off (for example by a killed process) and was ignored
        self.truncated = truncated

    def append(self, event: Any) -> None:
        self.events.append(event)

    # -- views -------------------------------------------------------------------------------------------------
    @property
    def header(self) -> Header:
        if not self.events or not isinstance(self.events[0], Header):
            raise TranscriptError("transcript has no header", source=self.path)
        return self.events[0]

    @property
    def messages(self) -> list[MessageEvent]:
        return [e for e in self.events if isinstance(e, MessageEvent)]

    @property
    def ballots(self) -> list[BallotEvent]:
        return [e for e in self.events if isinstance(e, BallotEvent)]

    @property
    def outcome(self) -> OutcomeEvent | None:
        return next((e for e in reversed(self.events) if isinstance(e, OutcomeEvent)), None)

    @property
    def end(self) -> EndEvent | None:
        return next((e for e in reversed(self.events) if isinstance(e, EndEvent)), None)

    @property
    def status(self) -> str:
        end = self.end
        return end.status if end is not None else "incomplete"

    def phase_messages(self, round: int, phase: str) -> list[MessageEvent]:
        return [m for m in self.messages if m.round == round and m.phase == phase]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def content(self) -> list[dict[str, Any]]:
        """Every event without its ``timing`` field: equal for two runs with the same seed and inputs."""
        return [e.model_dump(mode="json", exclude={"timing"}) for e in self.events]

    # -- files -------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write all events to ``path`` (atomically: a temporary file renamed into place)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for event in self.events:
                fh.write(event.model_dump_json() + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Transcript:
        """Read a transcript file. A cut-off last line is ignored (see :attr:`truncated`); other damage is an error."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise TranscriptError("transcript file not found", source=path) from None
        except IsADirectoryError:
            raise TranscriptError("expected a transcript file, found a directory", source=path) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise TranscriptError("transcript is not UTF-8 text", source=path) from None
        lines = text.split("\n")
        truncated = False
        if lines and lines[-1] == "":
            lines.pop()
        elif lines:
            # no newline at the end: the writer was interrupted mid-line
            truncated = True
            lines.pop()
        events = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(_EVENT.validate_json(line))
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first.get("loc", ()))
                raise TranscriptError(
                    f"line {number} is not a valid event ({loc}: {first['msg']})", source=path
                ) from None
        transcript = cls(events, path=path, truncated=truncated)
        if not events or not isinstance(events[0], Header):
            raise TranscriptError("not an agora transcript (the first line is not a header)", source=path)
        return transcript

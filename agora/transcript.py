"""Transcripts: an append-only JSON Lines log of typed events, written as the debate happens.

The first line is a :class:`Header` (protocol, config hash, seed, personas, graph, model identities, library
versions). Then one :class:`MessageEvent` per agent turn, a :class:`PhaseEvent` closing each phase, one
:class:`BallotEvent` per voter, the :class:`OutcomeEvent`, and an :class:`EndEvent`. Wall-clock facts live only in
each event's ``timing`` field, so two runs with the same seed can be compared with :meth:`Transcript.content`.

Crash safety: each event is one line, flushed when written and synced to disk at every phase boundary, so a killed
process leaves complete events followed at most by one cut-off line, which :meth:`Transcript.load` ignores.
:func:`agora.resume` continues such a file from its last complete phase.
"""

from __future__ import annotations

import hashlib
import json
import os

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError

from agora.errors import ConfigError, TranscriptError
from agora.files import read_bytes

#: the largest transcript file agora reads (a long debate of many agents stays far below it)
MAX_TRANSCRIPT_BYTES = 1 << 30

FORMAT_VERSION = 1


#: How notebooks show a transcript or an outcome as HTML: type -> renderer. :mod:`agora.views.html` fills it in
#: when it is imported (``import agora`` does), so that the views depend on the transcript, never the reverse.
HTML_VIEWS: dict[type, Callable[[Any], str]] = {}


def html_view(obj: Any) -> str | None:
    """``obj`` as HTML by its registered view; None (the notebook shows its text) when no view is registered."""
    view = HTML_VIEWS.get(type(obj))
    return view(obj) if view is not None else None


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
    templates: dict[str, str] = Field(
        default_factory=dict,
        description="prompt template file -> sha256 of its text (part of the config hash)",
    )
    sources: dict[str, Any] = Field(
        default_factory=dict,
        description="where the configuration came from, for resuming: the protocol spec file, its template "
        "directory and overrides, and each persona's card file (None for personas built in Python)",
    )


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
    margin: float | None = Field(
        default=None,
        description="the winner's score minus the runner-up's under the deciding rule (0: a tie)",
    )
    scores: dict[str, dict[str, float]] = Field(description="rule -> candidate -> score")
    winners_by_rule: dict[str, list[str]] = Field(default_factory=dict)
    candidates: dict[str, str] = Field(description="candidate id -> its answer")
    members: dict[str, list[str]] = Field(
        default_factory=dict, description="candidate id -> the agents whose answers merged into it"
    )
    dissenters: list[str] = Field(default_factory=list)
    dissent: list[dict[str, Any]] = Field(
        default_factory=list,
        description="per dissenter: first choice and its shortfall (agora.aggregation.dissent)",
    )
    value_conflict: dict[str, Any] = Field(
        default_factory=dict,
        description="values of the winners' side and the opposition (agora.aggregation.dissent)",
    )
    voters: int = Field(default=0, description="valid ballots: those counted")
    cast: int = Field(
        default=0, description="ballots asked for (one per agent); 0 in transcripts before this field"
    )
    abstained: dict[str, str] = Field(
        default_factory=dict,
        description="agent -> why its ballot did not count (unreadable, restated the options, or its turn failed)",
    )
    quorum: int = Field(default=0, description="the valid ballots the protocol's quorum needs for a winner")
    no_winner: str | None = Field(
        default=None, description="why the outcome names no winner (too few valid ballots), or None"
    )
    robustness: dict[str, Any] = Field(
        default_factory=dict,
        description="Condorcet winner or majority cycle, rules agreeing, the fewest ballots that flip the result, "
        "leave-one-out (agora.aggregation.robustness)",
    )
    weights: dict[str, float] = Field(
        default_factory=dict,
        description="value-weighted outcomes: agent -> the weight its ballot counted with",
    )
    relevance: dict[str, float] = Field(
        default_factory=dict, description="value-weighted outcomes: stated value -> relevance to the question"
    )
    weighting_error: str | None = Field(
        default=None, description="why value weighting could not be measured (the ballots then count equally)"
    )
    judgement: dict[str, Any] = Field(
        default_factory=dict,
        description="judged debates: the judge, the round it decided in, its verdict and how it was read",
    )
    mediation: dict[str, Any] = Field(
        default_factory=dict,
        description="mediator synthesis: the chosen draft ('winning_draft', 'statement'), whether it was revised, "
        "and why not ('revision_error'); the candidates are then the drafts",
    )

    def _repr_html_(self) -> str | None:
        """Notebook display: winner, answer, tallies under each rule, dissent, value conflict."""
        return html_view(self)


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


class UnknownEvent(BaseModel):
    """An event this version of agora cannot read, kept as it was read: one of a kind it does not know, or of a
    known kind with values it does not accept (a newer agora may write both).

    Only :meth:`Transcript.load` with ``strict=False`` produces these; every view skips them and says so.
    """

    model_config = ConfigDict(extra="allow")
    type: str
    #: why it could not be read ("" for a kind this version does not know)
    _reason: str = PrivateAttr(default="")


def _lenient_event(line: str) -> Any:
    """Read one line leniently: fields unknown to a known event type are dropped; an unknown ``type``, or a known
    one that is still invalid, becomes an :class:`UnknownEvent`. None when the line is not a JSON object with a
    ``type``."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    known = {cls.model_fields["type"].default: cls for cls in _EVENT_TYPES}
    cls = known.get(data["type"])
    if cls is None:
        return UnknownEvent.model_validate(data)
    try:
        return cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})
    except ValidationError as exc:
        event = UnknownEvent.model_validate(data)
        first = exc.errors()[0]
        event._reason = f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first['msg']}"
        return event


_EVENT_TYPES = (Header, MessageEvent, PhaseEvent, BallotEvent, OutcomeEvent, EndEvent)


def canonical_hash(data: Any) -> str:
    """sha256 of the canonical JSON form of ``data`` (sorted keys, no spaces)."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def config_hash(
    protocol_spec: dict[str, Any],
    personas: list[dict[str, Any]],
    graph: list[tuple[str, str]],
    question: str,
    seed: int,
    templates: dict[str, str],
) -> str:
    """The hash of everything that decides a debate's prompts: spec, cards, graph, question, seed, templates."""
    config: dict[str, Any] = {
        "protocol": protocol_spec,
        "personas": personas,
        "graph": [list(edge) for edge in graph],
        "question": question,
        "seed": seed,
    }
    if templates:
        config["templates"] = templates
    return canonical_hash(config)


def _lock(fh: IO[str], path: Path) -> None:
    """Hold an exclusive lock on ``fh``'s file until it is closed; refuse at once when another process holds one."""
    if (
        fcntl is None
    ):  # pragma: no cover - no advisory locks on this platform: one writer is the user's to ensure
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise TranscriptError(
            "is being written by another agora process (one writer per transcript); wait for it or choose another "
            "--out",
            source=path,
        ) from None


def _temporary(path: Path) -> Path:
    """Where a new version of ``path`` is written before it is renamed into place."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_all(fh: IO[str], events: list[Any]) -> None:
    """Write ``events`` as lines and sync them to disk: before the file takes its name, a crash leaves the old file
    or the new one, never half of it."""
    for event in events:
        fh.write(event.model_dump_json() + "\n")
    fh.flush()
    os.fsync(fh.fileno())


class TranscriptWriter:
    """Appends events to a JSON Lines file, flushing each line and syncing to disk at phase boundaries.

    One writer per transcript: the writer holds an exclusive lock on the file while it is open, and a second writer
    (another ``agora run --out`` or ``agora resume`` of the same file) is refused with :class:`TranscriptError`
    before it changes anything. :meth:`resuming` rewrites a resumed debate's kept events and goes on appending,
    keeping the lock all along.
    """

    def __init__(self, path: str | Path, *, _fh: IO[str] | None = None):
        self.path = Path(path)
        if _fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _fh = self.path.open("a", encoding="utf-8")  # not "w": a refused writer must not truncate
            _lock(_fh, self.path)
            _fh.truncate(0)
        self._fh = _fh

    @classmethod
    def resuming(cls, path: str | Path, events: list[Any]) -> TranscriptWriter:
        """A writer that first replaces ``path`` with ``events`` (atomically: a temporary file renamed into place,
        locked before it takes the name, so no other writer can slip in between), then appends."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        current = path.open("a", encoding="utf-8")
        _lock(current, path)
        try:
            tmp = _temporary(path)
            fh = tmp.open("w", encoding="utf-8")
            _lock(fh, tmp)
            _write_all(fh, events)
            os.replace(tmp, path)
        finally:
            current.close()
        return cls(path, _fh=fh)

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

    def _repr_html_(self) -> str | None:
        """Notebook display: the question, who held which position at each stage, and the outcome."""
        return html_view(self)

    def content(self) -> list[dict[str, Any]]:
        """Every event without its ``timing`` field: equal for two runs with the same seed and inputs."""
        return [e.model_dump(mode="json", exclude={"timing"}) for e in self.events]

    # -- files -------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write all events to ``path`` (atomically: a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temporary(path)
        with tmp.open("w", encoding="utf-8") as fh:
            _write_all(fh, self.events)
        os.replace(tmp, path)
        return path

    @property
    def unknown(self) -> list[UnknownEvent]:
        """Events this version could not read (only from ``load(..., strict=False)``)."""
        return [e for e in self.events if isinstance(e, UnknownEvent)]

    @classmethod
    def load(cls, path: str | Path, *, strict: bool = True) -> Transcript:
        """Read a transcript file. A cut-off last line is ignored (see :attr:`truncated`); other damage is an error.

        With ``strict=False`` (for views of transcripts a newer agora wrote), a field unknown to a known event kind
        is dropped, and an event of an unknown kind, or one still invalid, is kept as an :class:`UnknownEvent`,
        instead of failing.
        """
        path = Path(path)
        try:
            raw = read_bytes(path, MAX_TRANSCRIPT_BYTES, "transcript")
        except ConfigError as exc:
            raise TranscriptError(exc.detail, source=path) from None
        chunks = raw.split(b"\n")
        # no newline at the end: the writer was interrupted mid-line (possibly mid-character), so drop that part
        # before decoding
        truncated = chunks[-1] != b""
        chunks.pop()
        events = []
        for number, chunk in enumerate(chunks, start=1):
            try:
                line = chunk.decode("utf-8")
            except UnicodeDecodeError:
                raise TranscriptError(f"line {number} is not UTF-8 text", source=path) from None
            if not line.strip():
                continue
            try:
                events.append(_EVENT.validate_json(line))
            except ValidationError as exc:
                lenient = None if strict else _lenient_event(line)
                if lenient is not None:
                    events.append(lenient)
                    continue
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first.get("loc", ()))
                raise TranscriptError(
                    f"line {number} is not a valid event ({loc}: {first['msg']})", source=path
                ) from None
        transcript = cls(events, path=path, truncated=truncated)
        if events and isinstance(events[0], UnknownEvent) and events[0]._reason:
            raise TranscriptError(f"line 1 is not a valid event ({events[0]._reason})", source=path)
        if not events or not isinstance(events[0], Header):
            raise TranscriptError("not an agora transcript (the first line is not a header)", source=path)
        return transcript

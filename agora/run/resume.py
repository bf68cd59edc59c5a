"""Resume a killed or failed debate from its transcript.

    >>> from agora import resume_sync
    >>> result = resume_sync("transcripts/debate.jsonl")   # continues the file in place

The transcript's header says where the configuration came from: the protocol spec file (with any overrides such as
``--rounds``), its template directory, and each persona's card file. :func:`debate_from_transcript` loads them again
and refuses, naming the file, when a card, the spec or a template no longer matches what the debate started with
(the config hash). Personas built in Python are rebuilt from the header itself.

:func:`resume` keeps every complete phase (:mod:`agora.run.checkpoint`), runs the rest with the same seed -- every
request's seed derives from (seed, agent, round, phase), so the result is the one an uninterrupted run gives -- and
writes the transcript back to the same file: the kept events are rewritten atomically (a temporary file renamed into
place, with a note of the resume in the header's ``timing``), then new events are appended as they happen. With
``out``, the original file is left as it was and the resumed transcript goes to ``out`` instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any

import networkx as nx

from agora.backends import Backend
from agora.errors import ConfigError, TranscriptError
from agora.persona import Persona, load_persona
from agora.protocol.loader import Protocol, load_protocol
from agora.protocol.spec import ProtocolSpec
from agora.run.checkpoint import Checkpoint, find_checkpoint
from agora.run.debate import Debate, DebateResult
from agora.run.engine import AnswerReader, ProgressCallback
from agora.run.record import library_versions
from agora.transcript import Header, Transcript, config_hash


def _first_difference(recorded: dict[str, Any], current: dict[str, Any]) -> str:
    """The first top-level field whose value differs between two dumps."""
    for key in sorted(set(recorded) | set(current)):
        if recorded.get(key) != current.get(key):
            return key
    return "?"


def _personas(header: Header, path: Path | None) -> list[Persona]:
    sources = header.sources.get("personas", {})
    personas = []
    for recorded in header.personas:
        name = recorded.get("name")
        card = sources.get(name)
        if card is None:  # built in Python: the header holds all of it
            personas.append(Persona.model_validate(recorded))
            continue
        if not Path(card).is_file():
            raise ConfigError(
                f"the card of persona {name!r} is no longer at {card}; cannot resume", source=path
            )
        persona = load_persona(card)
        current = persona.model_dump(mode="json")
        if current != recorded:
            field = _first_difference(recorded, current)
            raise ConfigError(
                f"persona card changed since the debate started (config hash no longer matches); "
                f"restore it to resume {path or 'the transcript'}",
                source=card,
                field=field,
            )
        personas.append(persona)
    return personas


def _protocol(header: Header, path: Path | None) -> Protocol:
    sources = header.sources
    spec_file = sources.get("protocol")
    if spec_file is not None:
        if not Path(spec_file).is_file():
            raise ConfigError(f"the protocol spec is no longer at {spec_file}; cannot resume", source=path)
        protocol = load_protocol(Path(spec_file))
        overrides = sources.get("overrides") or {}
        if overrides:
            protocol = protocol.with_overrides(**overrides)
        current = protocol.spec.model_dump(mode="json")
        if current != header.protocol_spec:
            raise ConfigError(
                f"protocol spec changed since the debate started (config hash no longer matches); "
                f"restore it to resume {path or 'the transcript'}",
                source=spec_file,
                field=_first_difference(header.protocol_spec, current),
            )
    else:
        spec = ProtocolSpec.model_validate(header.protocol_spec)
        protocol = Protocol(spec, Path(sources["protocol_dir"]))
    current_templates = protocol.template_hashes()
    for name, digest in header.templates.items():
        if current_templates.get(name) != digest:
            raise ConfigError(
                f"prompt template changed since the debate started (config hash no longer matches); "
                f"restore it to resume {path or 'the transcript'}",
                source=protocol.directory / name,
            )
    return protocol


def debate_from_transcript(
    transcript: Transcript | str | Path,
    *,
    backends: dict[str, Backend] | None = None,
    backend: Backend | None = None,
    progress: ProgressCallback | None = None,
) -> Debate:
    """The :class:`Debate` a transcript was written by, loaded again from the files its header names.

    Raises :class:`ConfigError` naming the card, spec or template that changed since, and
    :class:`TranscriptError` for a transcript that records no sources (written before agora recorded them).
    """
    if not isinstance(transcript, Transcript):
        transcript = Transcript.load(transcript)
    header = transcript.header
    path = transcript.path
    if not header.sources or not header.templates:
        raise TranscriptError(
            "the header does not record where its cards, spec and templates came from "
            "(written by an older agora); it cannot be resumed",
            source=path,
        )
    personas = _personas(header, path)
    protocol = _protocol(header, path)
    graph = nx.DiGraph()
    graph.add_nodes_from(header.agents)
    graph.add_edges_from(header.graph)
    debate = Debate(
        personas,
        protocol,
        graph=graph,
        seed=header.seed,
        backends=backends,
        backend=backend,
        progress=progress,
    )
    edges = sorted((str(u), str(v)) for u, v in debate.graph.edges())
    rebuilt = config_hash(
        protocol.spec.model_dump(mode="json"),
        [p.model_dump(mode="json") for p in debate.personas],
        edges,
        header.question,
        header.seed,
        protocol.template_hashes(),
    )
    if rebuilt != header.config_hash:
        raise ConfigError(
            "the configuration loaded again does not match the transcript's config hash; cannot resume",
            source=path,
        )
    return debate


def plan_resume(path: str | Path) -> tuple[Transcript, Checkpoint]:
    """Read ``path`` and find where it can continue, without loading any model or writing anything."""
    transcript = Transcript.load(path)
    spec = ProtocolSpec.model_validate(transcript.header.protocol_spec)
    return transcript, find_checkpoint(transcript, spec)


async def resume(
    path: str | Path,
    *,
    out: str | Path | None = None,
    backends: dict[str, Backend] | None = None,
    backend: Backend | None = None,
    progress: ProgressCallback | None = None,
    read_answer: AnswerReader | None = None,
) -> DebateResult:
    """Continue the debate recorded in ``path`` from its last complete phase.

    Writes to ``path`` itself unless ``out`` is given. ``backends``/``backend`` are as for :class:`Debate` (needed
    for personas whose model is ``scripted``); give the same ``read_answer`` as the interrupted run, if it had one.
    Everything is checked before anything is written.
    """
    transcript, checkpoint = plan_resume(path)
    debate = debate_from_transcript(transcript, backends=backends, backend=backend, progress=progress)
    header = checkpoint.header
    notes = list(header.timing.get("resumes", []))
    notes.append({**checkpoint.note(time.time()), "versions": library_versions()})
    header = header.model_copy(update={"timing": {**header.timing, "resumes": notes}})
    checkpoint = dataclasses.replace(checkpoint, events=(header, *checkpoint.events[1:]))
    target = Path(out) if out is not None else Path(path)
    return await debate.run(header.question, out=target, read_answer=read_answer, resume=checkpoint)


def resume_sync(path: str | Path, **kwargs: Any) -> DebateResult:
    """Blocking version of :func:`resume` (not from inside a running event loop)."""
    return asyncio.run(resume(path, **kwargs))

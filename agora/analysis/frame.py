"""Transcripts as a table: one row per message and one per ballot (pandas, an optional dependency).

``rows(transcripts)`` gives plain dicts and needs nothing; ``to_dataframe(transcripts)`` turns them into a
``pandas.DataFrame`` (``pip install 'agora[analysis]'``).

The ``debate`` column names each debate by its transcript's path relative to a root, with "/" between directories:
given a :class:`~agora.analysis.load.Collection` (what :func:`~agora.analysis.load.load` returns), the directory it
was loaded from, so that an experiment's debates are named as its results table's ``transcript`` column names them
(``transcripts/CONFIG/TASK-ITEM.jsonl``) and the two tables join on it; given transcripts, the deepest directory
holding all of them (a single transcript: its file name). Debates in different directories never share a name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from agora.analysis.load import Collection
from agora.analysis.positions import positions
from agora.errors import AgoraError
from agora.transcript import Transcript

COLUMNS = [
    "debate",
    "event",
    "round",
    "phase",
    "kind",
    "agent",
    "model",
    "recipients",
    "text",
    "answer",
    "position",
    "first_choice",
    "ranking",
    "weight",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "error",
]


def debate_ids(transcripts: Sequence[Transcript], root: str | Path | None = None) -> list[str]:
    """Each transcript's name in the ``debate`` column (see the module doc): its path relative to ``root``, or to
    the deepest directory holding every transcript; a transcript outside ``root`` keeps its absolute path, and one
    never saved is named by its index."""
    paths = [Path(os.path.abspath(t.path)) if t.path is not None else None for t in transcripts]
    if root is not None:
        base: Path | None = Path(os.path.abspath(root))
    else:
        folders = {str(p.parent) for p in paths if p is not None}
        try:
            base = Path(os.path.commonpath(sorted(folders))) if folders else None
        except ValueError:  # different drives
            base = None
    ids = []
    for index, path in enumerate(paths):
        if path is None:
            ids.append(str(index))
        elif base is not None and path.is_relative_to(base):
            ids.append(path.relative_to(base).as_posix())
        else:
            ids.append(path.as_posix())
    return ids


def rows(
    transcripts: Transcript | Iterable[Transcript] | Collection, *, root: str | Path | None = None
) -> list[dict[str, Any]]:
    """One dict per message (``event`` "message") and per ballot (``event`` "ballot"), with the columns of
    :data:`COLUMNS`. ``position`` is the message's position id (proposals and revisions; see
    :mod:`agora.analysis.positions`); ``first_choice`` the ballot's first tier joined by "=", ``ranking`` the whole
    ranking as text; ``debate`` the transcript's path relative to ``root`` (by default a collection's directory,
    else the deepest directory holding every transcript: see the module doc)."""
    if isinstance(transcripts, Collection):
        if root is None:
            root = transcripts.root if transcripts.root.is_dir() else transcripts.root.parent
        transcripts = transcripts.transcripts
    elif isinstance(transcripts, Transcript):
        transcripts = [transcripts]
    transcripts = list(transcripts)
    out = []
    for t, name in zip(transcripts, debate_ids(transcripts, root), strict=True):
        pos = positions(t)
        stage_of = {stage: i for i, stage in enumerate(pos.stages)}
        last_round = max((msg.round for msg in t.messages), default=0)
        for msg in t.messages:
            stage = stage_of.get((msg.round, msg.phase))
            held = pos.table[stage].get(msg.agent) if stage is not None and msg.ok else None
            out.append(
                {
                    "debate": name,
                    "event": "message",
                    "round": msg.round,
                    "phase": msg.phase,
                    "kind": msg.kind,
                    "agent": msg.agent,
                    "model": msg.model,
                    "recipients": ",".join(msg.recipients),
                    "text": msg.text,
                    "answer": msg.answer,
                    "position": held,
                    "first_choice": None,
                    "ranking": None,
                    "weight": None,
                    "prompt_tokens": msg.prompt_tokens,
                    "completion_tokens": msg.completion_tokens,
                    "latency_s": msg.timing.get("latency_s"),
                    "error": msg.error,
                }
            )
        for b in t.ballots:
            out.append(
                {
                    "debate": name,
                    "event": "ballot",
                    "round": last_round,
                    "phase": "vote",
                    "kind": "vote",
                    "agent": b.agent,
                    "model": None,
                    "recipients": "",
                    "text": b.raw,
                    "answer": None,
                    "position": None,
                    "first_choice": "=".join(b.ranking[0]) if b.ranking else None,
                    "ranking": " > ".join("=".join(tier) for tier in b.ranking) if b.ranking else None,
                    "weight": b.weight,
                    "prompt_tokens": None,
                    "completion_tokens": None,
                    "latency_s": b.timing.get("latency_s"),
                    "error": b.error,
                }
            )
    return out


def to_dataframe(
    transcripts: Transcript | Iterable[Transcript] | Collection, *, root: str | Path | None = None
) -> Any:
    """The rows of :func:`rows` as a ``pandas.DataFrame`` (columns in :data:`COLUMNS` order); pass the
    :class:`~agora.analysis.load.Collection` itself to name debates as the experiment's results table does."""
    try:
        import pandas as pd
    except ImportError:
        raise AgoraError(
            "a DataFrame needs pandas: pip install 'agora[analysis]'", field="to_dataframe"
        ) from None
    return pd.DataFrame(rows(transcripts, root=root), columns=COLUMNS)

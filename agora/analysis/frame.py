"""Transcripts as a table: one row per message and one per ballot (pandas, an optional dependency).

``rows(transcripts)`` gives plain dicts and needs nothing; ``to_dataframe(transcripts)`` turns them into a
``pandas.DataFrame`` (``pip install 'agora[analysis]'``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


def rows(transcripts: Transcript | Iterable[Transcript]) -> list[dict[str, Any]]:
    """One dict per message (``event`` "message") and per ballot (``event`` "ballot"), with the columns of
    :data:`COLUMNS`. ``position`` is the message's position id (proposals and revisions; see
    :mod:`agora.analysis.positions`); ``first_choice`` the ballot's first tier joined by "=", ``ranking`` the whole
    ranking as text; ``debate`` the transcript's file name (or its index)."""
    if isinstance(transcripts, Transcript):
        transcripts = [transcripts]
    out = []
    for index, t in enumerate(transcripts):
        name = t.path.name if t.path is not None else str(index)
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


def to_dataframe(transcripts: Transcript | Iterable[Transcript]) -> Any:
    """The rows of :func:`rows` as a ``pandas.DataFrame`` (columns in :data:`COLUMNS` order)."""
    try:
        import pandas as pd
    except ImportError:
        raise AgoraError(
            "a DataFrame needs pandas: pip install 'agora[analysis]'", field="to_dataframe"
        ) from None
    return pd.DataFrame(rows(transcripts), columns=COLUMNS)

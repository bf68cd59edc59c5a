"""Result rows: what a finished debate on a task item gives (pure), and the results files (JSON Lines, CSV)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Any, TextIO

from agora.errors import ConfigError
from agora.experiment.metrics import majority
from agora.run.seeds import derive_seed
from agora.tasks import TaskItem, extract, gold_value, is_correct
from agora.transcript import MessageEvent, StopEvent, Transcript

RESULTS = "results.jsonl"
COLUMNS = [
    "row_id",
    "config_id",
    "task",
    "item_id",
    "protocol",
    "graph",
    "pool",
    "seed",
    "agents",
    "models",
    "kind",
    "gold",
    "answer",
    "extracted",
    "correct",
    "member_answers",
    "members_correct",
    "member_tokens",
    "majority",
    "majority_correct",
    "final_answers",
    "rounds_run",
    "stopped",
    "prompt_tokens",
    "completion_tokens",
    "wall_s",
    "status",
    "error",
    "transcript",
]


def row_id(config_id: str, item: TaskItem) -> str:
    return hashlib.sha256(f"{config_id}:{item.key}".encode()).hexdigest()[:16]


# -- reading a finished debate ---------------------------------------------------------------------------------
def _first_answers(t: Transcript) -> dict[str, MessageEvent]:
    """Each agent's first proposal: given before it saw anyone else's message (the member alone)."""
    first: dict[str, MessageEvent] = {}
    for m in t.messages:
        if m.kind == "propose" and m.ok and m.agent not in first:
            first[m.agent] = m
    return first


def _final_answers(t: Transcript) -> dict[str, MessageEvent]:
    latest: dict[str, MessageEvent] = {}
    for m in t.messages:
        if m.kind in ("propose", "revise") and m.ok:
            latest[m.agent] = m
    return latest


def score_transcript(item: TaskItem, t: Transcript, seed: int) -> dict[str, Any]:
    """The columns a transcript gives: the system's answer and correctness, each member's first answer (and the
    tokens it took), their majority, final answers, rounds, stop reason, tokens, status."""
    gold = gold_value(item)
    first = _first_answers(t)
    final = _final_answers(t)
    member_answers = {a: extract(item, m.text).value for a, m in first.items()}
    outcome = t.outcome
    text = ""
    if outcome is not None and outcome.winner is not None:
        # the winning candidate's full final message, read as the agents' answers were read (an unreadable reply
        # stands as a candidate by its first sentence, which must not be read on its own); the outcome's answer
        # where the winner is no agent (the mediator's revised statement)
        winner = final.get(outcome.winner)
        text = winner.text if winner is not None else outcome.answer
    found = extract(item, text) if text else None
    vote = majority(member_answers.values(), seed=derive_seed(seed, "majority", item.key))
    stops = [e for e in t.events if isinstance(e, StopEvent)]
    end = t.end
    return {
        "answer": outcome.answer if outcome is not None else "",
        "extracted": found.value if found else None,
        "correct": bool(text) and is_correct(item, text),
        "member_answers": member_answers,
        "members_correct": {a: v == gold for a, v in member_answers.items()},
        "member_tokens": {a: m.completion_tokens for a, m in first.items()},
        "majority": vote,
        "majority_correct": vote == gold if member_answers else None,
        "final_answers": {a: extract(item, m.text).value for a, m in final.items()},
        "rounds_run": max((m.round for m in t.messages), default=0),
        "stopped": stops[-1].reason if stops else "",
        "prompt_tokens": sum(m.prompt_tokens for m in t.messages),
        "completion_tokens": sum(m.completion_tokens for m in t.messages),
        "status": t.status,
        "error": end.error if end is not None else "did not finish",
    }


# -- the results file ------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results file; a cut-off last line (a killed run) is dropped and the file repaired."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]
    rows = []
    for number, line in enumerate(complete, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise ConfigError(f"line {number} is not a JSON row", source=path) from None
    if tail.strip():  # written without its newline: the process died mid-write
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in complete if line.strip()), encoding="utf-8")
        os.replace(tmp, path)
    return rows


def append_row(fh: TextIO, row: dict[str, Any]) -> None:
    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The rows as CSV; mappings and lists are written as JSON text."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()})

"""Loading what the analysis reads: one transcript, or every transcript and the results table of an experiment
directory.

An experiment directory is read recursively: every ``*.jsonl`` file whose first line is a transcript header is a
debate; any other ``*.jsonl`` or ``*.csv`` file is a results table (one row per line or record). Files that cannot
be read are listed with the reason instead of stopping the whole load, so one damaged debate never hides the rest.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agora.errors import TranscriptError
from agora.transcript import Transcript


@dataclass
class Results:
    """A results table found in an experiment directory: its file and its rows (column -> value)."""

    path: Path
    rows: list[dict[str, Any]]

    @property
    def columns(self) -> list[str]:
        seen: dict[str, None] = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)


@dataclass
class Collection:
    """What was loaded: the transcripts (in path order), results tables, and the files that could not be read."""

    root: Path
    transcripts: list[Transcript] = field(default_factory=list)
    results: list[Results] = field(default_factory=list)
    unreadable: dict[Path, str] = field(default_factory=dict)

    @property
    def is_directory(self) -> bool:
        return self.root.is_dir()


def load_transcript(path: str | Path) -> Transcript:
    """One transcript, leniently: events of kinds a newer agora added are kept aside (see ``Transcript.load``)."""
    return Transcript.load(path, strict=False)


def _first_line(path: Path) -> str:
    with path.open("rb") as fh:
        return fh.readline(1 << 20).decode("utf-8", errors="replace")


def _is_transcript(path: Path) -> bool:
    try:
        first = json.loads(_first_line(path))
    except (ValueError, OSError):
        return False
    return isinstance(first, dict) and first.get("type") == "header"


def read_results(path: Path) -> Results:
    """A results table from a CSV file (with a header row) or a JSON Lines file of objects."""
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [{k: _number(v) for k, v in row.items() if k is not None} for row in csv.DictReader(fh)]
        return Results(path, rows)
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            if number == len(lines):
                break  # a cut-off last line
            raise TranscriptError(f"line {number} is not JSON", source=path) from None
        if isinstance(row, dict):
            rows.append(row)
    return Results(path, rows)


def _number(value: str) -> Any:
    """CSV cells as numbers or booleans where they read as such."""
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return value


def load(path: str | Path) -> Collection:
    """Load a transcript file, or everything in an experiment directory (see the module doc).

    A missing path, or a directory holding no transcript, is a :class:`~agora.errors.TranscriptError`; so is a
    single file that is not a transcript.
    """
    root = Path(path)
    if not root.exists():
        raise TranscriptError("no such file or directory", source=root)
    collection = Collection(root)
    if root.is_file():
        collection.transcripts.append(load_transcript(root))
        return collection
    for file in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".csv")):
        try:
            if file.suffix == ".jsonl" and _is_transcript(file):
                collection.transcripts.append(load_transcript(file))
            elif file.stat().st_size:
                collection.results.append(read_results(file))
        except (TranscriptError, OSError, UnicodeDecodeError, csv.Error) as exc:
            collection.unreadable[file] = str(getattr(exc, "detail", exc))
    if not collection.transcripts:
        detail = f" ({len(collection.unreadable)} unreadable)" if collection.unreadable else ""
        raise TranscriptError(f"no agora transcript (*.jsonl) in this directory{detail}", source=root)
    return collection

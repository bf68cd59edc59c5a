"""Reading a file of paired per-item correctness for ``agora stats``: CSV or JSON Lines, columns ``item``, ``task``,
then one column per system holding 0 or 1 (wrong or right) for every item.

```
item,task,debate,vote,single
q1,boolq,1,0,1
q2,boolq,0,0,1
```

Every mistake is one :class:`~agora.errors.AgoraError` naming the file, the line and the column: a missing column,
a value other than 0/1, an item listed twice within its task, fewer than two systems. A file ending in ``.csv`` is
CSV, one ending in ``.jsonl``, ``.ndjson`` or ``.json`` is JSON Lines (one object per line); otherwise a first
character ``{`` means JSON Lines. Items are returned sorted by task and item id, so the order of the lines does not
change any result.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agora.errors import AgoraError

KEYS = ("item", "task")
MAX_BYTES = 200_000_000


@dataclass(frozen=True)
class PairedItems:
    """Items (sorted by task, then item id) with each system's 0/1 value per item."""

    items: list[tuple[str, str]]  # (task, item id)
    systems: list[str]
    values: dict[str, list[int]]

    @property
    def tasks(self) -> list[str]:
        return [task for task, _ in self.items]


def _fail(path: Path, message: str) -> AgoraError:
    return AgoraError(message, source=path)


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _fail(path, "file not found") from None
    except IsADirectoryError:
        raise _fail(path, "expected a CSV or JSONL file, found a directory") from None
    except OSError as exc:
        raise _fail(path, f"cannot read the file: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise _fail(path, f"the file is {len(raw)} bytes, larger than the {MAX_BYTES} allowed")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(path, "the file is not UTF-8 text") from None
    if "\x00" in text:
        raise _fail(path, "the file contains binary data")
    return text


def _is_jsonl(path: Path, text: str) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return False
    if suffix in (".jsonl", ".ndjson", ".json"):
        return True
    return text.lstrip().startswith("{")


def _bit(value: Any, path: Path, line: int, column: str) -> int:
    """A cell as 0 or 1: the text ``0``/``1`` (CSV), a JSON number 0/1 or a JSON boolean."""
    if isinstance(value, str):
        if value.strip() in ("0", "1"):
            return int(value.strip())
        shown = "an empty value" if not value.strip() else repr(value)
    elif isinstance(value, (bool, int, float)) and value in (0, 1):  # a JSON boolean, or the number 0 or 1
        return int(value)
    else:
        shown = json.dumps(value)
    raise _fail(path, f"line {line}, column {column!r}: {shown} is not 0 or 1")


def _name(value: Any, path: Path, line: int, column: str) -> str:
    """An item id or task name: non-empty text (a JSON integer is read as its digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        shown = "empty" if isinstance(value, str) or value is None else json.dumps(value)
        raise _fail(path, f"line {line}, column {column!r}: the {column} is {shown}; expected text")
    return value.strip()


def _columns(header: list[str], path: Path, line: int = 1) -> list[str]:
    """The system columns of a header, after checking ``item`` and ``task`` are there and no name repeats."""
    names = [h.strip() for h in header]
    for key in KEYS:
        if key not in names:
            raise _fail(path, f"line {line}: missing column {key!r} (columns: {', '.join(names) or 'none'})")
    seen: set[str] = set()
    for name in names:
        if not name:
            raise _fail(path, f"line {line}: a column has no name")
        if name in seen:
            raise _fail(path, f"line {line}: column {name!r} appears twice")
        seen.add(name)
    systems = [n for n in names if n not in KEYS]
    if len(systems) < 2:
        found = f"1 system column ({systems[0]!r})" if systems else "no system columns"
        raise _fail(path, f"line {line}: {found}; a comparison needs at least 2 (one 0/1 column per system)")
    return systems


def _records(path: Path, text: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """The header and the (line number, row) records of the file."""
    if _is_jsonl(path, text):
        header: list[str] | None = None
        records: list[tuple[int, dict[str, Any]]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict):
                raise _fail(path, f"line {number} is not a JSON object")
            row = {key.strip(): value for key, value in row.items()}
            if header is None:
                header = list(row)
                _columns(header, path, number)
            else:
                for key in header:
                    if key not in row:
                        raise _fail(path, f"line {number}: missing column {key!r}")
                for key in row:
                    if key not in header:
                        raise _fail(path, f"line {number}: column {key!r} is not in the first line")
            records.append((number, row))
        if header is None:
            raise _fail(path, "the file has no rows")
        return header, records
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise _fail(path, "the file has no header line (item, task, then one column per system)")
        _columns(header, path)
        names = [h.strip() for h in header]
        records = []
        for fields in reader:
            number = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(names):
                raise _fail(path, f"line {number}: {len(fields)} fields, the header has {len(names)}")
            records.append((number, dict(zip(names, fields, strict=True))))
    except csv.Error as exc:
        raise _fail(path, f"line {reader.line_num}: not valid CSV ({exc})") from None
    return names, records


def read_paired(path: str | Path) -> PairedItems:
    """Read and check a paired-correctness file (see the module doc)."""
    path = Path(path)
    header, records = _records(path, _text(path))
    systems = _columns(header, path)
    if not records:
        raise _fail(path, "the file has no rows below its header")
    seen: dict[tuple[str, str], int] = {}
    rows: list[tuple[tuple[str, str], list[int]]] = []
    for number, row in records:
        key = (_name(row["task"], path, number, "task"), _name(row["item"], path, number, "item"))
        if key in seen:
            raise _fail(
                path,
                f"line {number}, column 'item': item {key[1]!r} of task {key[0]!r} appears twice "
                f"(lines {seen[key]} and {number})",
            )
        seen[key] = number
        rows.append((key, [_bit(row[s], path, number, s) for s in systems]))
    rows.sort(key=lambda r: r[0])
    return PairedItems(
        items=[key for key, _ in rows],
        systems=systems,
        values={s: [bits[j] for _, bits in rows] for j, s in enumerate(systems)},
    )

"""Shards of a sweep: which rows shard I of N runs, and merging shard outputs into the results of one run.

A row belongs to shard ``I`` of ``N`` (0 <= I < N) when its row id, read as a hexadecimal number, is ``I`` mod
``N``. The row id hashes the configuration and the item, so a row's shard does not depend on the order of the
spec, on ``--items`` or on which rows are already done: every shard can be killed and rerun on its own, and
together the N shards run every row exactly once. Each shard writes the usual results layout in its own output
directory; :func:`merge_shards` checks that the shards hold each row of the sweep exactly once and writes the
results of one run (rows in the order a single run writes them, transcripts copied, summaries rebuilt).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agora.errors import ConfigError
from agora.experiment.results import RESULTS, read_rows, row_id

if TYPE_CHECKING:
    from agora.experiment.runner import Sweep, SweepReport

Shard = tuple[int, int]
SHOWN = 10  # rows named in an error before "and K more"


def parse_shard(text: str) -> Shard:
    """``"I/N"`` as ``(I, N)`` with 0 <= I < N."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found:
        raise ConfigError(f"--shard must be I/N (for example 0/3), got {text!r}", field="--shard")
    index, count = int(found.group(1)), int(found.group(2))
    if count < 1 or index >= count:
        raise ConfigError(f"--shard I/N needs N >= 1 and 0 <= I < N, got {text!r}", field="--shard")
    return index, count


def in_shard(rid: str, shard: Shard | None) -> bool:
    """Whether the row with id ``rid`` belongs to ``shard`` (every row does without one)."""
    if shard is None:
        return True
    index, count = shard
    return int(rid, 16) % count == index


def _describe(row: dict[str, Any]) -> str:
    return f"{row.get('row_id')} ({row.get('protocol')} · {row.get('pool')} · seed {row.get('seed')} · " + (
        f"{row.get('task')}:{row.get('item_id')})"
    )


def _listing(names: Sequence[str]) -> str:
    shown = "; ".join(names[:SHOWN])
    return shown + (f"; and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def merge_shards(sweep: Sweep, dirs: Sequence[str | Path]) -> SweepReport:
    """Combine the shard directories ``dirs`` of ``sweep`` into ``sweep.out``, as one run would have written it.

    Refused (:class:`ConfigError`, naming the rows) when a row is in two shards, a row of the sweep is in none, a
    row is not of this sweep (another spec or ``--items``) or a row's transcript is missing; the output must not
    hold results yet. Nothing is written before every check has passed."""
    if not dirs:
        raise ConfigError("merge needs at least one shard directory")
    results = sweep.out / RESULTS
    if results.exists():
        raise ConfigError("the merge output already holds results; choose a new directory", source=results)
    jobs = {row_id(c.id, i): (c, i) for c, i in sweep.jobs()}
    found: dict[str, tuple[dict[str, Any], Path]] = {}
    duplicates, foreign, lost = [], [], []
    for folder in map(Path, dirs):
        path = folder / RESULTS
        if not path.is_file():
            raise ConfigError("not a sweep's output: no results file", source=path)
        for row in read_rows(path):
            rid = row["row_id"]
            if rid not in jobs:
                foreign.append(f"{_describe(row)} in {folder}")
            elif rid in found:
                duplicates.append(f"{_describe(row)} in {found[rid][1]} and {folder}")
            else:
                found[rid] = row, folder
                if not (folder / str(row.get("transcript", ""))).is_file():
                    lost.append(f"{_describe(row)}: {folder / str(row.get('transcript', ''))}")
    missing = [f"{rid} ({c.label} · {i.key})" for rid, (c, i) in jobs.items() if rid not in found]
    for what, names in (
        ("in more than one shard", duplicates),
        ("not rows of this sweep (another spec or --items?)", foreign),
        ("in no shard", missing),
        ("without their transcript", lost),
    ):
        if names:
            raise ConfigError(f"cannot merge: {len(names)} rows {what}: {_listing(names)}")
    sweep.out.mkdir(parents=True, exist_ok=True)
    rows = [found[rid][0] for rid in jobs]  # the order of a single run
    for row in rows:
        target = sweep.out / row["transcript"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(found[row["row_id"]][1] / row["transcript"], target)
    return sweep.write_merged(rows)

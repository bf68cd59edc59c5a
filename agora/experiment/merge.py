"""Merging shard outputs (:mod:`agora.experiment.shards`) into the results of one run: the shards must hold each
row of the sweep exactly once; the rows are written in the order a single run writes them, transcripts copied and
summaries rebuilt."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agora.errors import ConfigError
from agora.experiment.results import RESULTS, read_rows, row_id
from agora.experiment.runner import Sweep, SweepReport

SHOWN = 10  # rows named in an error before "and K more"


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

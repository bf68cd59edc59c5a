"""Shards of a sweep: which rows shard I of N runs (:mod:`agora.experiment.merge` combines their outputs).

A row belongs to shard ``I`` of ``N`` (0 <= I < N) when its row id, read as a hexadecimal number, is ``I`` mod
``N``. The row id hashes the configuration and the item, so a row's shard does not depend on the order of the
spec, on ``--items`` or on which rows are already done: every shard can be killed and rerun on its own, and
together the N shards run every row exactly once. Each shard writes the usual results layout in its own output
directory.
"""

from __future__ import annotations

import re

from agora.errors import ConfigError

Shard = tuple[int, int]


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

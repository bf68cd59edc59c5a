"""One seed on the run, every random choice derived from it: per request, per ballot order, per tie-break."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from agora.aggregation.parse import LABELS


def derive_seed(seed: int, *parts: object) -> int:
    """A stable 31-bit seed for one random choice, derived from the run's seed (same inputs, same seed)."""
    digest = hashlib.sha256(":".join([str(seed), *map(str, parts)]).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def label(i: int) -> str:
    """The ``i``-th ballot label: A to Z, then AA, AB, ... (only ballots that no model writes go past Z)."""
    name = ""
    i += 1
    while i:
        i, rest = divmod(i - 1, len(LABELS))
        name = LABELS[rest] + name
    return name


def ballot_order(candidates: Sequence[str], seed: int, voter: str) -> dict[str, str]:
    """Labels shown to ``voter`` -> candidate id, in a per-voter seeded shuffle (no fixed position bias)."""
    order = list(candidates)
    random.Random(derive_seed(seed, "ballot", voter)).shuffle(order)
    return {label(i): cand for i, cand in enumerate(order)}

"""Ballot files for ``agora aggregate``: any rule on any ballots, outside a debate.

A ballot file is JSON (or YAML)::

    {
      "candidates": ["A", "B", "C"],                         # optional: else every candidate a ballot names
      "ballots": [
        {"voter": "alice", "ranking": ["A", ["B", "C"]]},    # best first; an inner list is a tie
        {"voter": "bob", "ranking": ["B", "A", "C"], "weight": 2},
        {"voter": "carol", "utilities": {"A": 0.2, "B": 0.5, "C": 0.3}},   # ranking follows the utilities
        {"voter": "dan", "approved": ["B", "C"]}              # approval ballot
      ]
    }

Each ballot needs at least one of ``ranking``, ``utilities`` and ``approved``; ``weight`` (default 1) counts when
aggregating with weights. Candidates a ranking leaves out are tied last.

Size limits, so that every rule answers within seconds: at most :data:`MAX_CANDIDATES` candidates, at most
:data:`MAX_BALLOTS` ballots, at most :data:`MAX_RANKING_LENGTH` candidates in one ballot's ranking, utilities or
approvals, and a file of at most 1,000,000 bytes (:data:`agora._yaml.MAX_CONFIG_BYTES`, every configuration file's
limit). A larger file is refused with one line naming the file and the limit. The costliest rules cost about one
step per distinct ranking and pair of candidates it orders (the pairwise margins), or n^3 (Schulze's widest paths,
ranked pairs' lock-in); within these limits that is at most tens of millions of steps, about a second.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agora._yaml import read_model
from agora.aggregation.ballot import Ballot
from agora.errors import ConfigError

MAX_CANDIDATES = 100
MAX_BALLOTS = 100_000
MAX_RANKING_LENGTH = MAX_CANDIDATES
#: the largest weight a ballot may carry: sums of weights over every ballot stay far from overflowing
MAX_WEIGHT = 1e6


def _too_many(count: int, what: str, limit: int) -> str:
    return f"{count:,} {what}, more than agora aggregates (at most {limit:,})"


class BallotEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    voter: str = Field(min_length=1, max_length=200)
    ranking: list[str | list[str]] = Field(default_factory=list)
    weight: float = Field(default=1.0, ge=0.0, le=MAX_WEIGHT)
    utilities: dict[str, float] | None = None
    approved: list[str] | None = None

    @field_validator("weight")
    @classmethod
    def _finite_weight(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("weight must be a finite number")
        return value

    @field_validator("utilities")
    @classmethod
    def _finite_utilities(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is not None and not all(math.isfinite(v) for v in value.values()):
            raise ValueError("utilities must be finite numbers")
        return value

    @field_validator("ranking", "utilities", "approved")
    @classmethod
    def _not_too_long(cls, value: list | dict | None) -> list | dict | None:
        if value is not None and len(value) > MAX_RANKING_LENGTH:
            raise ValueError(_too_many(len(value), "candidates in one ballot", MAX_RANKING_LENGTH))
        return value

    @model_validator(mode="after")
    def _has_a_preference(self) -> BallotEntry:
        if not self.ranking and not self.utilities and self.approved is None:
            raise ValueError("a ballot needs a ranking, utilities or approved")
        named = [c for tier in self.ranking for c in ([tier] if isinstance(tier, str) else tier)]
        if len(named) != len(set(named)):
            raise ValueError("a ranking names a candidate twice")
        empty = [i for i, tier in enumerate(self.ranking, start=1) if not tier]
        if empty:
            raise ValueError(f"tier {empty[0]} of the ranking is empty (a tie needs at least one candidate)")
        if self.approved is not None and not self.approved:
            raise ValueError("'approved' is empty: approve at least one candidate, or give no approved field")
        if self.approved is not None and len(self.approved) != len(set(self.approved)):
            raise ValueError("'approved' names a candidate twice")
        return self

    def names(self) -> set[str]:
        named = {c for tier in self.ranking for c in ([tier] if isinstance(tier, str) else tier)}
        return named | set(self.utilities or {}) | set(self.approved or [])


class BallotFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidates: list[str] | None = Field(default=None, min_length=1)
    ballots: list[BallotEntry] = Field(min_length=1)

    @field_validator("candidates")
    @classmethod
    def _few_candidates(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(value) > MAX_CANDIDATES:
            raise ValueError(_too_many(len(value), "candidates", MAX_CANDIDATES))
        return value

    @field_validator("ballots", mode="before")
    @classmethod
    def _few_ballots(cls, value: object) -> object:
        if isinstance(value, list) and len(value) > MAX_BALLOTS:
            raise ValueError(_too_many(len(value), "ballots", MAX_BALLOTS))
        return value


def load_ballots(path: str | Path) -> tuple[list[str], list[Ballot]]:
    """Read a ballot file; every problem is a :class:`ConfigError` naming the file and the field."""
    path = Path(path)
    parsed = read_model(path, BallotFile, "ballot file")
    named = sorted(set().union(*(b.names() for b in parsed.ballots)))
    candidates = parsed.candidates or named
    if len(set(candidates)) != len(candidates):
        raise ConfigError("a candidate is listed twice", source=path, field="candidates")
    if len(candidates) > MAX_CANDIDATES:
        raise ConfigError(
            _too_many(len(candidates), "candidates", MAX_CANDIDATES), source=path, field="candidates"
        )
    known = set(candidates)
    ballots_of = Counter(b.voter for b in parsed.ballots)
    for i, entry in enumerate(parsed.ballots):
        unknown = sorted(entry.names() - known)
        if unknown:
            raise ConfigError(
                f"ballot of {entry.voter!r} names {unknown[0]!r}, which is not a candidate",
                source=path,
                field=f"ballots.{i}",
            )
        if ballots_of[entry.voter] > 1:
            raise ConfigError(
                f"voter {entry.voter!r} has more than one ballot", source=path, field=f"ballots.{i}"
            )
        if entry.utilities is not None and set(entry.utilities) != known:
            missing = sorted(known - set(entry.utilities))
            raise ConfigError(
                f"ballot of {entry.voter!r} has no utility for {missing[0]!r}",
                source=path,
                field=f"ballots.{i}.utilities",
            )
    ballots = [
        Ballot.of(b.voter, b.ranking, b.weight, utilities=b.utilities, approved=b.approved)
        for b in parsed.ballots
    ]
    return list(candidates), ballots

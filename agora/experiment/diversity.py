"""How diverse a pool of agents is, so a sweep can show the diversity effect (same pool size, more or less diverse).

Two descriptors, both defined on the pool alone (before any debate):

- ``families``: the number of distinct model families among the agents. A model's family is its reference without
  the size and variant: ``smollm2-135m-instruct`` -> ``smollm2``, ``qwen2.5-coder-0.5b-instruct`` ->
  ``qwen2.5-coder``, ``gemma3-270m`` -> ``gemma3`` (the part before the first ``-<number>m`` or ``-<number>b``); a
  local path or an endpoint counts as its own family.
- ``value_diversity``: the mean, over pairs of agents, of the total variation distance between their normalised
  stated values, ``0.5 * sum_v |w_a(v) - w_b(v)|``: 0 when every agent states the same values, 1 when no two share
  any value. A pool of one agent has diversity 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from agora.persona import Persona

_SIZE = re.compile(r"-\d+(?:\.\d+)?[mb](?:-|$)", re.IGNORECASE)


def model_family(model: str) -> str:
    """The model family of a model reference (see the module doc)."""
    match = _SIZE.search(model)
    return model[: match.start()] if match else model


def value_distance(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Total variation distance between two normalised value profiles."""
    return 0.5 * sum(abs(a.get(v, 0.0) - b.get(v, 0.0)) for v in set(a) | set(b))


def value_diversity(profiles: Sequence[Mapping[str, float]]) -> float:
    """Mean pairwise total variation distance (0 for fewer than two agents)."""
    pairs = list(combinations(profiles, 2))
    return sum(value_distance(a, b) for a, b in pairs) / len(pairs) if pairs else 0.0


def pool_diversity(personas: Sequence[Persona]) -> dict[str, Any]:
    """``size``, ``models`` and ``families`` (distinct counts) and ``value_diversity`` of a pool."""
    return {
        "size": len(personas),
        "models": len({p.model for p in personas}),
        "families": len({model_family(p.model) for p in personas}),
        "value_diversity": round(value_diversity([dict(p.normalised_values) for p in personas]), 4),
    }

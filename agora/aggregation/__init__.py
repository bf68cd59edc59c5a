"""Aggregation: from the agents' ballots to one outcome. Ballots and how they read, the rule registry and every
built-in rule, outcomes with seeded tie-breaks, whether two answers take the same position and merging them into
candidates, value relevance, dissent, and ballot files."""

from __future__ import annotations

from agora.aggregation.ballot import Ballot
from agora.aggregation.claims import same_position
from agora.aggregation.outcome import Result, aggregate
from agora.aggregation.registry import RULES, get_rule, register_rule

__all__ = ["RULES", "Ballot", "Result", "aggregate", "get_rule", "register_rule", "same_position"]

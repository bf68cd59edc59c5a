"""The registry of aggregation rules: name -> rule function with its one-line summary.

Every rule has one signature::

    rule(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]

and returns a score per candidate (higher is better). Add a rule with ``@register_rule("name", "one line")``; the
built-in rules (:mod:`agora.aggregation.rules`) register the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agora.aggregation.ballot import Ballot
from agora.errors import ConfigError

Rule = Callable[[Sequence[Ballot], Sequence[str]], dict[str, float]]


@dataclass(frozen=True)
class RuleInfo:
    name: str
    summary: str
    function: Rule


RULES: dict[str, RuleInfo] = {}


def register_rule(name: str, summary: str) -> Callable[[Rule], Rule]:
    def deco(fn: Rule) -> Rule:
        RULES[name] = RuleInfo(name, summary, fn)
        return fn

    return deco


def get_rule(name: str, *, field: str = "aggregation.rule", source: str | None = None) -> RuleInfo:
    try:
        return RULES[name]
    except KeyError:
        raise ConfigError(
            f"unknown aggregation rule {name!r} (available: {', '.join(sorted(RULES))})",
            source=source,
            field=field,
        ) from None

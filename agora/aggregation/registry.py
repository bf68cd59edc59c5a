"""The registry of aggregation rules: name -> rule function with its one-line summary.

Every rule has one signature::

    rule(ballots: Sequence[Ballot], candidates: Sequence[str]) -> dict[str, float]

and returns a score per candidate (higher is better). Add a rule with ``@register_rule("name", "one line")``; the
built-in rules (:mod:`agora.aggregation.rules`) register the same way. Installed plugins add rules as entry points in
the group ``agora.rules`` (see :mod:`agora.plugins`): the object is a rule function, summarised by its docstring's
first line, imported the first time its name is asked for. A name registered in code wins over a plugin's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agora.aggregation.ballot import Ballot
from agora.errors import ConfigError, PluginError
from agora.plugins import RULES as GROUP
from agora.plugins import load_plugin, plugins, warn_once

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
    """The rule registered as ``name``, or the installed plugin's; an unknown name is an error listing every rule."""
    info = RULES.get(name)
    if info is not None:
        return info
    try:
        info = _plugin_rule(name)
    except PluginError as exc:
        raise PluginError(exc.detail, source=source, field=field) from exc.__cause__
    if info is None:
        raise ConfigError(
            f"unknown aggregation rule {name!r} (available: {', '.join(rule_names())})",
            source=source,
            field=field,
        )
    return info


def rule_names() -> list[str]:
    """Every rule name: registered in code and advertised by installed plugins (none imported)."""
    return sorted(set(RULES) | set(plugins(GROUP)))


def all_rules() -> dict[str, RuleInfo]:
    """Every rule that loads: those registered in code in their order, then plugin rules by name. A broken plugin,
    or one named like a rule registered in code, is left out and logged once."""
    found = dict(RULES)
    for name, plugin in plugins(GROUP).items():
        if name in found:
            warn_once(f"{plugin.describe()} is not used: agora already has a rule named {name!r}")
            continue
        try:
            info = _plugin_rule(name)
        except PluginError as exc:
            warn_once(str(exc))
            continue
        if info is not None:
            found[name] = info
    return found


def _plugin_rule(name: str) -> RuleInfo | None:
    obj = load_plugin(GROUP, name)
    if obj is None:
        return None
    if not callable(obj):
        raise plugins(GROUP)[name].error(
            f"is a {type(obj).__name__}, not a rule function (ballots, candidates) -> dict[str, float]"
        )
    return _rule_info(name, obj)  # type: ignore[arg-type]


def _rule_info(name: str, function: Rule) -> RuleInfo:
    doc = (function.__doc__ or "").strip()
    summary = doc.splitlines()[0].strip() if doc else "(no summary: the rule function has no docstring)"
    return RuleInfo(name, summary, function)

"""Metrics over result rows (pure functions): accuracy with a Wilson interval, members alone, majority vote,
the emergent rate, tokens and time. A row is one configuration on one item (see ``docs/experiments.md``)."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Row = Mapping[str, Any]


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); ``(0, 1)`` when ``n`` is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def majority(answers: Iterable[str | None], seed: int | None = None) -> str | None:
    """The most frequent answer (``None`` answers do not count). A tie for first is drawn by ``seed``, or gives
    ``None`` without one."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    top = max(counts.values())
    tied = sorted(a for a, c in counts.items() if c == top)
    if len(tied) == 1:
        return tied[0]
    return None if seed is None else random.Random(seed).choice(tied)


def is_emergent(row: Row) -> bool:
    """The system answered right although every member alone answered wrong."""
    members = row.get("members_correct") or {}
    return bool(row["correct"]) and bool(members) and not any(members.values())


@dataclass
class Summary:
    """What one group of rows (a configuration, over its items and seeds) scored."""

    n: int
    correct: int
    accuracy: float
    ci: tuple[float, float]
    majority_accuracy: float | None
    members: dict[str, float] = field(default_factory=dict)
    best_member: float | None = None
    all_members_wrong: int = 0
    emergent: int = 0
    emergent_rate: float | None = None
    failed: int = 0
    completion_tokens: float = 0.0
    prompt_tokens: float = 0.0
    wall_s: float = 0.0


def summarise(rows: Sequence[Row]) -> Summary:
    """Accuracy (Wilson 95%), majority vote of the members' first answers, each member alone (the share of items
    its first, independent answer got right), the emergent rate (of the items every member got wrong alone, the
    share the system got right), failures and mean tokens and seconds per item."""
    n = len(rows)
    correct = sum(1 for r in rows if r["correct"])
    votes = [r for r in rows if r.get("majority_correct") is not None]
    per_member: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        for agent, ok in (r.get("members_correct") or {}).items():
            per_member[agent].append(bool(ok))
    members = {a: sum(v) / len(v) for a, v in sorted(per_member.items())}
    hard = [r for r in rows if r.get("members_correct") and not any(r["members_correct"].values())]
    emergent = sum(1 for r in hard if r["correct"])
    return Summary(
        n=n,
        correct=correct,
        accuracy=correct / n if n else 0.0,
        ci=wilson(correct, n),
        majority_accuracy=sum(1 for r in votes if r["majority_correct"]) / len(votes) if votes else None,
        members=members,
        best_member=max(members.values()) if members else None,
        all_members_wrong=len(hard),
        emergent=emergent,
        emergent_rate=emergent / len(hard) if hard else None,
        failed=sum(1 for r in rows if r.get("status") != "completed"),
        completion_tokens=sum(r.get("completion_tokens", 0) for r in rows) / n if n else 0.0,
        prompt_tokens=sum(r.get("prompt_tokens", 0) for r in rows) / n if n else 0.0,
        wall_s=sum(r.get("wall_s", 0.0) for r in rows) / n if n else 0.0,
    )


def group(rows: Iterable[Row], key: Callable[[Row], tuple[Any, ...]]) -> dict[tuple[Any, ...], list[Row]]:
    """Rows grouped by ``key``, groups in order of first appearance."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


CONFIG_KEY = ("task", "protocol", "graph", "pool")


def _groups(rows: Sequence[Row]) -> list[tuple[tuple[Any, ...], list[Row]]]:
    """Per task and configuration, then (with more than one task) per configuration over all tasks."""
    by_task = group(rows, lambda r: tuple(r[k] for k in CONFIG_KEY))
    overall = group(rows, lambda r: ("all", *(r[k] for k in CONFIG_KEY[1:])))
    tasks = {k[0] for k in by_task}
    return list(by_task.items()) + (list(overall.items()) if len(tasks) > 1 else [])


def summary_records(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The summary table's numbers as records (``summary.json``): the group's keys plus :class:`Summary`."""
    return [
        {**dict(zip(CONFIG_KEY, key, strict=True)), **asdict(summarise(grouped))}
        for key, grouped in _groups(rows)
    ]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _interval(ci: Sequence[float]) -> str:
    """A confidence interval as ``low–high`` percent."""
    return f"{_pct(ci[0])}–{_pct(ci[1])}"


def _emergent(s: Summary) -> str:
    """The emergent count and rate, or a dash where no item had every member wrong."""
    return f"{s.emergent} ({_pct(s.emergent_rate)}%)" if s.all_members_wrong else "–"


def _members(members: Mapping[str, float], listed: int = 6) -> str:
    """Each member's accuracy; for a larger pool (self-consistency's samples) their count and mean."""
    if len(members) > listed:
        return f"{len(members)} members, mean {_pct(sum(members.values()) / len(members))}"
    return ", ".join(f"{a} {_pct(v)}" for a, v in members.items())


def summary_table(rows: Sequence[Row]) -> str:
    """A markdown table: one line per task and configuration (seeds pooled), then per configuration over all
    tasks."""
    header = (
        "| task | protocol | graph | pool | n | accuracy % | 95% CI | majority % | best member % | "
        "members alone % | all members wrong | emergent | generated tokens/item | prompt tokens/item | s/item | "
        "failed |\n"
        "|---|---|---|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [header]
    for key, grouped in _groups(rows):
        s = summarise(grouped)
        lines.append(
            f"| {' | '.join(str(k) for k in key)} | {s.n} | {_pct(s.accuracy)} | "
            f"{_interval(s.ci)} | {_pct(s.majority_accuracy)} | {_pct(s.best_member)} | "
            f"{_members(s.members)} | {s.all_members_wrong} | {_emergent(s)} | {s.completion_tokens:.0f} | {s.prompt_tokens:.0f} | "
            f"{s.wall_s:.1f} | "
            f"{s.failed} |"
        )
    return "\n".join(lines)


def diversity_table(rows: Sequence[Row], diversity: Mapping[str, Mapping[str, Any]]) -> str:
    """A markdown table of the diversity effect: per protocol and pool over all tasks, the pool's size, model
    families and value diversity (``agora.experiment.diversity``) beside its accuracy and emergent rate."""
    lines = [
        "| protocol | pool | agents | model families | value diversity | n | accuracy % | 95% CI | emergent |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for (protocol, pool), grouped in group(rows, lambda r: (r["protocol"], r["pool"])).items():
        d = diversity.get(pool, {})
        s = summarise(grouped)
        lines.append(
            f"| {protocol} | {pool} | {d.get('size', '–')} | {d.get('families', '–')} | "
            f"{d.get('value_diversity', 0.0):.2f} | {s.n} | {_pct(s.accuracy)} | {_interval(s.ci)} | "
            f"{_emergent(s)} |"
        )
    return "\n".join(lines)

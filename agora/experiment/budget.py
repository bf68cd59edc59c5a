"""Self-consistency at a matched token budget (pure functions over result rows).

A self-consistency configuration samples one model N times; its row keeps every sample's answer
(``member_answers``) and the tokens it generated (``member_tokens``). Read at another system's budget, item by item:
the samples are taken in order (``NAME-1``, ``NAME-2``, ...) while their generated tokens together stay within the
tokens that system generated on the same item and seed (at least one sample), and their plurality is the answer (a
tie is drawn with a seed derived from the run seed and item, as for the majority column). An item is *short* when
all N samples together stay under the budget: the baseline then spent less than the system, and N should grow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agora.experiment.metrics import _interval, _pct, group, majority, wilson
from agora.run.seeds import derive_seed

Row = Mapping[str, Any]


def _natural(name: str) -> tuple[Any, ...]:
    """``empirica-2`` before ``empirica-10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


@dataclass(frozen=True)
class AtBudget:
    """Self-consistency on one item, read at one budget."""

    budget: int
    samples: int
    tokens: int
    answer: str | None
    correct: bool
    short: bool


def at_budget(sampled: Row, budget: int) -> AtBudget:
    """The plurality of the first samples of ``sampled`` (a self-consistency row) whose generated tokens together
    stay within ``budget`` (at least one sample)."""
    answers = sampled.get("member_answers") or {}
    tokens = sampled.get("member_tokens") or {}
    names = sorted(answers, key=_natural)
    taken: list[str] = []
    spent = 0
    for name in names:
        cost = int(tokens.get(name, 0))
        if taken and spent + cost > budget:
            break
        taken.append(name)
        spent += cost
    key = f"{sampled['task']}/{sampled['item_id']}"
    answer = majority((answers[n] for n in taken), seed=derive_seed(sampled["seed"], "majority", key))
    short = len(taken) == len(names) and spent < budget
    return AtBudget(
        budget, len(taken), spent, answer, answer is not None and answer == sampled["gold"], short
    )


def matched(system: Sequence[Row], sampled: Sequence[Row]) -> list[tuple[Row, AtBudget]]:
    """Each system row beside self-consistency read at that row's generated tokens, for the items (task, id,
    seed) both have; rows missing the per-sample columns (written by an older agora) are left out."""
    samples = {(r["task"], r["item_id"], r["seed"]): r for r in sampled if r.get("member_tokens")}
    pairs = []
    for r in system:
        s = samples.get((r["task"], r["item_id"], r["seed"]))
        if s is not None:
            pairs.append((r, at_budget(s, int(r.get("completion_tokens", 0)))))
    return pairs


def budget_records(pairs: Sequence[tuple[Row, AtBudget]], system: str, baseline: str) -> list[dict[str, Any]]:
    """Per task (then ``all`` with more than one task): the system's accuracy and tokens beside self-consistency's
    at the same budget."""
    by_task = group(pairs, lambda p: (p[0]["task"],))
    groups = list(by_task.items())
    if len(by_task) > 1:
        groups.append((("all",), list(pairs)))
    records = []
    for (task,), grouped in groups:
        n = len(grouped)
        right = sum(1 for r, _ in grouped if r["correct"])
        sc_right = sum(1 for _, b in grouped if b.correct)
        records.append(
            {
                "task": task,
                "system": system,
                "self_consistency": baseline,
                "n": n,
                "system_accuracy": right / n,
                "system_ci": wilson(right, n),
                "accuracy": sc_right / n,
                "ci": wilson(sc_right, n),
                "budget": sum(b.budget for _, b in grouped) / n,
                "samples": sum(b.samples for _, b in grouped) / n,
                "tokens": sum(b.tokens for _, b in grouped) / n,
                "short": sum(1 for _, b in grouped if b.short),
            }
        )
    return records


def budget_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The records of :func:`budget_records` as a markdown table."""
    lines = [
        "| task | system | system % | its generated tokens/item | self-consistency | at that budget % | 95% CI | "
        "samples/item | tokens/item | items short |",
        "|---|---|---:|---:|---|---:|---|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['task']} | {r['system']} | {_pct(r['system_accuracy'])} | {r['budget']:.0f} | "
            f"{r['self_consistency']} | {_pct(r['accuracy'])} | {_interval(r['ci'])} | "
            f"{r['samples']:.1f} | {r['tokens']:.0f} | {r['short']} |"
        )
    return "\n".join(lines)

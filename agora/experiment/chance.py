"""The emergent rate beside what luck alone would give.

The emergent rate is the share, among the items where every member's first answer was wrong, that the system
answered right (:func:`agora.experiment.metrics.summarise`). Some of that is luck, and how much depends on the
items' options. Two chance expectations, computed item by item from each item's k options (2 for yes/no; an open
numeric answer counts as never right by luck):

- *guessing*: a system that guessed uniformly among the options would be right on 1/k of an item; averaged over the
  all-wrong items this is the emergent rate of pure guessing (1/2 on yes/no items).
- *moving off*: the system *moved off* the members' answers when its answer is readable and none of the members
  gave it first. An answer drawn uniformly from the options the members did not give is right with
  1/(k - w), w the number of distinct readable wrong answers the members gave: 1/(k-1) for k-way choice when the
  members shared one wrong answer, and 1 for yes/no, where leaving the members' shared wrong answer *is* the right
  answer. Every emergent item is a moved item (the right answer is one no member gave), so the share of the moved
  items the system got right is set beside the mean of 1/(k - w) over them.

An emergent rate near the guessing rate, or a right-when-moved share near its chance, is what luck gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agora.experiment.metrics import CONFIG_KEY, _groups, _pct
from agora.experiment.trivial import guess_share, option_count

Row = Mapping[str, Any]


def _all_wrong(row: Row) -> bool:
    """Every member's first answer was wrong (as the emergent count defines it)."""
    members = row.get("members_correct") or {}
    return bool(members) and not any(members.values())


def _moved(row: Row) -> bool:
    """The system's answer is readable and none of the members gave it first."""
    answer = row.get("extracted")
    return answer is not None and answer not in set((row.get("member_answers") or {}).values())


def moved_share(row: Row, options: Mapping[str, int]) -> float | None:
    """The chance that an answer drawn uniformly from the options no member gave first is right."""
    k = option_count(row, options)
    if k is None:
        return None
    if k == 0:
        return 0.0
    wrong = {v for v in (row.get("member_answers") or {}).values() if v is not None and v != row["gold"]}
    return 1 / max(1, k - len(wrong))


def _mean(values: Sequence[float | None]) -> float | None:
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None) / len(values)


def emergent_chance(rows: Sequence[Row], options: Mapping[str, int]) -> dict[str, Any]:
    """For one group of rows: the all-wrong items, the emergent count and rate, the guessing expectation, the moved
    items, the share of them right and its chance expectation (``None`` where undefined)."""
    hard = [r for r in rows if _all_wrong(r)]
    moved = [r for r in hard if _moved(r)]
    emergent = sum(1 for r in hard if r["correct"])
    return {
        "all_members_wrong": len(hard),
        "emergent": emergent,
        "emergent_rate": emergent / len(hard) if hard else None,
        "guess_rate": _mean([guess_share(r, options) for r in hard]) if hard else None,
        "moved": len(moved),
        "right_when_moved": emergent / len(moved) if moved else None,
        "moved_chance": _mean([moved_share(r, options) for r in moved]) if moved else None,
    }


def chance_records(rows: Sequence[Row], options: Mapping[str, int]) -> list[dict[str, Any]]:
    """:func:`emergent_chance` per task and configuration, then per configuration over all tasks (the groups of
    the summary table)."""
    return [
        {**dict(zip(CONFIG_KEY, key, strict=True)), **emergent_chance(grouped, options)}
        for key, grouped in _groups(rows)
    ]


def chance_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The chance records as a markdown table."""
    lines = [
        "| task | protocol | graph | pool | all members wrong | emergent | emergent % | guessing % | moved off | "
        "right when moved % | chance when moved % |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {' | '.join(str(r[k]) for k in CONFIG_KEY)} | {r['all_members_wrong']} | {r['emergent']} | "
            f"{_pct(r['emergent_rate'])} | {_pct(r['guess_rate'])} | {r['moved']} | "
            f"{_pct(r['right_when_moved'])} | {_pct(r['moved_chance'])} |"
        )
    return "\n".join(lines)

"""How the answers read: per model and task the share of answers the task's reader could not read, and for
multiple-choice tasks which letters were chosen.

An agent's answer is *unreadable* when the task's extraction (:func:`agora.tasks.extract`) finds no answer in its
reply: the ``null`` values of ``member_answers`` (each agent's first proposal) and ``final_answers`` (its last
proposal or revision). An unreadable answer scores as wrong, so a model with many of them is measured as much on
following the answer format as on the task. Each agent's answer in each row counts once; an agent's model comes from
its configuration (``agent_models``: config id -> agent -> model), else from the row's ``models`` when the pool has
one model.

The letter histogram puts the letters chosen beside the gold letters of the scored items: a model that answers
``A`` far more often than ``A`` is right has a position bias that accuracy alone hides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from agora.aggregation.parse import LABELS
from agora.experiment.metrics import _pct

Row = Mapping[str, Any]
AgentModels = Mapping[str, Mapping[str, str]]


def model_of(row: Row, agent: str, agent_models: AgentModels) -> str:
    """The model an agent of ``row`` ran on."""
    model = agent_models.get(row.get("config_id", ""), {}).get(agent)
    if model is not None:
        return model
    models = row.get("models") or []
    return models[0] if len(models) == 1 else "unknown"


def readability_records(rows: Sequence[Row], agent_models: AgentModels) -> list[dict[str, Any]]:
    """Per task and model (in order of first appearance): first and final answers, how many of each could not be
    read, and the unreadable shares."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for r in rows:
        for column, label in (("member_answers", "first"), ("final_answers", "final")):
            for agent, value in (r.get(column) or {}).items():
                c = counts.setdefault((r["task"], model_of(r, agent, agent_models)), Counter())
                c[label] += 1
                c[f"{label}_unreadable"] += value is None
    records = []
    for (task, model), c in counts.items():
        records.append(
            {
                "task": task,
                "model": model,
                "first_answers": c["first"],
                "first_unreadable": c["first_unreadable"],
                "first_unreadable_rate": c["first_unreadable"] / c["first"] if c["first"] else None,
                "final_answers": c["final"],
                "final_unreadable": c["final_unreadable"],
                "final_unreadable_rate": c["final_unreadable"] / c["final"] if c["final"] else None,
            }
        )
    return records


def readability_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The readability records as a markdown table."""
    lines = [
        "| task | model | first answers | unreadable | unreadable % | final answers | unreadable | unreadable % |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['task']} | {r['model']} | {r['first_answers']} | {r['first_unreadable']} | "
            f"{_pct(r['first_unreadable_rate'])} | {r['final_answers']} | {r['final_unreadable']} | "
            f"{_pct(r['final_unreadable_rate'])} |"
        )
    return "\n".join(lines)


def letter_records(
    rows: Sequence[Row], agent_models: AgentModels, options: Mapping[str, int]
) -> list[dict[str, Any]]:
    """For each multiple-choice task: the gold letters of its scored items (each item once), each model's first
    answers and each system's answers (``extracted``; a system is protocol/graph/pool), as letter counts with the
    unreadable answers counted apart. ``letters`` lists the columns: as many as the task's largest option count."""
    records: list[dict[str, Any]] = []
    tasks = list(dict.fromkeys(r["task"] for r in rows if r["kind"] == "choice"))
    for task in tasks:
        mine = [r for r in rows if r["task"] == task and r["kind"] == "choice"]
        items = {str(r["item_id"]): r for r in mine}
        most = max((options.get(f"{task}/{i}", 0) for i in items), default=0)
        groups: dict[tuple[str, str], Counter[str | None]] = {("gold", "gold"): Counter()}
        for r in items.values():
            groups[("gold", "gold")][r["gold"]] += 1
        for r in mine:
            for agent, value in (r.get("member_answers") or {}).items():
                groups.setdefault(("model", model_of(r, agent, agent_models)), Counter())[value] += 1
        for r in mine:
            system = f"{r['protocol']}/{r['graph']}/{r['pool']}"
            groups.setdefault(("system", system), Counter())[r.get("extracted")] += 1
        seen = {v for c in groups.values() for v in c if v is not None}
        width = max([most, *(LABELS.index(v) + 1 for v in seen if v in LABELS)])
        letters = list(LABELS[:width])
        for (whose, name), c in groups.items():
            records.append(
                {
                    "task": task,
                    "whose": whose,
                    "name": name,
                    "n": sum(c.values()),
                    "letters": {letter: c[letter] for letter in letters},
                    "unreadable": c[None],
                }
            )
    return records


def letter_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The letter records as markdown tables, one per task: the share of each letter (and of unreadable
    answers) in each row's answers."""
    tables = []
    for task in dict.fromkeys(r["task"] for r in records):
        mine = [r for r in records if r["task"] == task]
        letters = list(mine[0]["letters"])
        lines = [
            f"| {task} | answers | {' | '.join(f'{x} %' for x in letters)} | unreadable % |",
            f"|---|---:|{'---:|' * len(letters)}---:|",
        ]
        for r in mine:
            label = {"gold": "gold (items)", "model": f"model {r['name']} (first answers)"}.get(
                r["whose"], f"system {r['name']}"
            )
            n = r["n"]
            shares = " | ".join(_pct(r["letters"][x] / n if n else None) for x in letters)
            lines.append(f"| {label} | {n} | {shares} | {_pct(r['unreadable'] / n if n else None)} |")
        tables.append("\n".join(lines))
    return "\n\n".join(tables)

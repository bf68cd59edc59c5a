"""Trivial baselines per task: what answering without reading the question would score on the scored items.

- *majority gold*: always give the answer that is most often right among the scored items (the share of items whose
  gold is that answer). It looks at the gold answers, so it is a ceiling for any constant answer rather than a
  strategy one could follow blind; a system below it has learned less than the label balance.
- *always yes*: for yes/no tasks, the share of items whose gold is ``yes``.
- *uniform guess*: the expected accuracy of guessing uniformly among an item's options (1/k for k options, 1/2 for
  yes/no), averaged over the items; none for numeric answers.

Each item counts once, however many configurations and seeds ran it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from agora.experiment.metrics import _pct

Row = Mapping[str, Any]


def option_count(row: Row, options: Mapping[str, int]) -> int | None:
    """How many answers a guess at ``row``'s item chooses from: 2 for yes/no, the options of a multiple-choice item
    (from ``options``, keyed ``task/item_id``; ``None`` when not known), 0 for an open numeric answer."""
    if row["kind"] == "yesno":
        return 2
    if row["kind"] == "number":
        return 0
    return options.get(f"{row['task']}/{row['item_id']}") or None


def guess_share(row: Row, options: Mapping[str, int]) -> float | None:
    """The chance that a uniform guess answers ``row``'s item right: 1/k for k options, 0 for an open numeric
    answer; ``None`` when the number of options is not known."""
    k = option_count(row, options)
    if k is None:
        return None
    return 1 / k if k else 0.0


def baseline_records(rows: Sequence[Row], options: Mapping[str, int]) -> list[dict[str, Any]]:
    """Per task (in order of first appearance): its answer kind, the number of distinct items scored, the
    majority gold answer(s) and their share, the always-yes share and the uniform-guess expectation."""
    items: dict[str, dict[str, Row]] = {}
    for r in rows:
        items.setdefault(r["task"], {}).setdefault(str(r["item_id"]), r)
    records = []
    for task, scored in items.items():
        golds = Counter(str(r["gold"]) for r in scored.values())
        n = len(scored)
        top = max(golds.values())
        kinds = sorted({r["kind"] for r in scored.values()})
        guesses = [guess_share(r, options) for r in scored.values()]
        records.append(
            {
                "task": task,
                "kind": "/".join(kinds),
                "items": n,
                "majority_gold": sorted(g for g, c in golds.items() if c == top),
                "majority_accuracy": top / n,
                "always_yes": golds["yes"] / n if kinds == ["yesno"] else None,
                "uniform_guess": None
                if kinds == ["number"] or any(g is None for g in guesses)
                else sum(g for g in guesses if g is not None) / n,
            }
        )
    return records


def baseline_table(records: Sequence[Mapping[str, Any]]) -> str:
    """The baseline records as a markdown table."""
    lines = [
        "| task | answer | items scored | majority gold answer | majority gold % | always yes % | uniform guess % |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for r in records:
        lines.append(
            f"| {r['task']} | {r['kind']} | {r['items']} | {' / '.join(r['majority_gold'])} | "
            f"{_pct(r['majority_accuracy'])} | {_pct(r['always_yes'])} | {_pct(r['uniform_guess'])} |"
        )
    return "\n".join(lines)

"""The sections a sweep's summary adds after its accuracy tables, from the result rows alone (pure):

- the development items excluded (``exclude_items``),
- the spec's contrasts with paired statistics (:mod:`agora.experiment.contrasts`),
- trivial baselines per task (:mod:`agora.experiment.trivial`),
- the emergent rate beside its chance expectations (:mod:`agora.experiment.chance`),
- unreadable answers per model and task and, for multiple-choice tasks, the letters chosen
  (:mod:`agora.experiment.answers`).

These are the checks a reader needs before believing an accuracy difference: is it more than item sampling,
more than a constant answer, more than luck, more than a failure to follow the answer format?
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agora.experiment.answers import (
    AgentModels,
    letter_records,
    letter_table,
    readability_records,
    readability_table,
)
from agora.experiment.chance import chance_records, chance_table
from agora.experiment.contrasts import System, contrast_records, contrast_table
from agora.experiment.stats import RESAMPLES
from agora.experiment.trivial import baseline_records, baseline_table

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Checks:
    """The markdown sections (each starting with a blank line and a ``##`` heading), their records
    (``checks.json``) and the contrast records (``contrasts.json``; ``None`` without contrasts)."""

    markdown: str
    records: dict[str, Any]
    contrasts: list[dict[str, Any]] | None


def _section(title: str, explanation: str, table: str) -> str:
    return f"\n\n## {title}\n\n{explanation}\n\n{table}"


def check_sections(
    rows: Sequence[Row],
    *,
    options: Mapping[str, int],
    agent_models: AgentModels,
    excluded: Mapping[str, int] | None = None,
    contrasts: Sequence[tuple[System, System]] = (),
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Checks:
    """Every section for ``rows``. ``options``: item key -> option count (:func:`agora.experiment.items.
    option_counts`); ``agent_models``: config id -> agent -> model; ``excluded``: task -> development items left
    out; ``contrasts``: resolved pairs of systems (:func:`agora.experiment.contrasts.resolve_contrasts`)."""
    excluded = dict(excluded or {})
    records: dict[str, Any] = {
        "excluded": excluded,
        "baselines": baseline_records(rows, options),
        "emergent_chance": chance_records(rows, options),
        "readability": readability_records(rows, agent_models),
        "letters": letter_records(rows, agent_models, options),
    }
    text = ""
    if excluded:
        listed = ", ".join(f"{task} {n}" for task, n in excluded.items())
        total = sum(excluded.values())
        text += _section(
            "Excluded development items",
            f"{total} item{'s' if total != 1 else ''} listed under exclude_items ({listed}) "
            f"{'were' if total != 1 else 'was'} neither run nor scored; each task's items were drawn from the rest.",
            "",
        ).rstrip()
    found = None
    if contrasts:
        found = contrast_records(rows, contrasts, resamples=resamples, seed=seed)
        text += _section(
            "Contrasts",
            "The spec's contrasts on the items both systems ran (rows paired by task, item and seed; an item's "
            "value is its share of right answers over the paired seeds). diff = A % - B % in points; 95% CI: "
            f"percentile interval of a paired bootstrap resampling items within each task ({resamples} resamples, "
            f"seed {seed}); McNemar p: exact two-sided binomial test on the items where one system did better "
            "(with several seeds the sign test on the items' shares); Holm p: adjusted over these contrasts.",
            contrast_table(found),
        )
    text += _section(
        "Trivial baselines",
        "Per task, on the scored items: always the answer most often right (majority gold), always yes (yes/no "
        "tasks), and the expected accuracy of a uniform guess among each item's options.",
        baseline_table(records["baselines"]),
    )
    text += _section(
        "Emergent rate and chance",
        "Of the items where every member's first answer was wrong: the emergent rate beside pure guessing (mean "
        "1/k over those items, k options); 'moved off': the items where the system gave a readable answer no member "
        "gave first, the share of them right, and the chance that an answer drawn from the options the members did "
        "not give is right (mean 1/(k - w), w the members' distinct wrong answers; 1 on yes/no items). Open numeric "
        "answers count as never right by chance.",
        chance_table(records["emergent_chance"]),
    )
    text += _section(
        "Unreadable answers",
        "Per task and model: the agents' first and final answers, and how many of them the task's answer reader "
        "could not read (they score as wrong).",
        readability_table(records["readability"]),
    )
    if records["letters"]:
        text += _section(
            "Letters chosen",
            "Multiple-choice tasks: the share of each letter among the gold answers of the scored items, each "
            "model's first answers and each system's answers.",
            letter_table(records["letters"]),
        )
    return Checks(text, records, found)

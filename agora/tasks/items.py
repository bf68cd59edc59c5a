"""A task item: one question with its gold answer, and how it is put to the agents.

Three kinds of answer: ``choice`` (multiple choice: the gold is the index of the right option), ``yesno`` (the gold
is ``"yes"`` or ``"no"``) and ``number`` (the gold is a number written as a string, e.g. ``"18"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from agora.aggregation.parse import LABELS

AnswerKind = Literal["choice", "yesno", "number"]

# Longest context (a BoolQ passage) kept in a prompt; debates put the question in several prompts per agent.
MAX_CONTEXT_CHARS = 1500

INSTRUCTIONS: dict[AnswerKind, str] = {
    "choice": "Reply with the letter of the correct option.",
    "yesno": "Reply yes or no.",
    "number": "Give the final answer as a number.",
}


@dataclass(frozen=True)
class TaskItem:
    """One question of a task set with its gold answer."""

    task: str
    id: str
    question: str
    kind: AnswerKind
    gold: int | str
    choices: tuple[str, ...] = ()
    context: str = ""
    meta: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def gold_text(self) -> str:
        """The gold answer as a reader would write it: ``B. paris``, ``yes``, ``18``."""
        if self.kind == "choice":
            assert isinstance(self.gold, int)
            return f"{LABELS[self.gold]}. {self.choices[self.gold]}"
        return str(self.gold)

    @property
    def key(self) -> str:
        """A stable identity across runs: ``task/id``."""
        return f"{self.task}/{self.id}"

    def prompt(self) -> str:
        """The question as the agents see it: context, question, lettered options and how to reply."""
        parts = []
        if self.context:
            context = self.context.strip()
            if len(context) > MAX_CONTEXT_CHARS:
                context = context[:MAX_CONTEXT_CHARS].rsplit(" ", 1)[0] + " ..."
            parts.append(context)
        parts.append(self.question.strip())
        if self.kind == "choice":
            parts.append("\n".join(f"{LABELS[i]}. {c}" for i, c in enumerate(self.choices)))
        parts.append(INSTRUCTIONS[self.kind])
        return "\n".join(parts)

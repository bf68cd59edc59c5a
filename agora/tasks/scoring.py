"""Reading a task answer out of free model text, and scoring it against the gold answer.

Every extractor returns an :class:`Extraction`: the canonical answer (a letter ``"B"``, ``"yes"``/``"no"``, a number
``"18"``) or ``None`` when the text gives none, and the rule that found it, so that a results file can show how
each answer was read. All functions here are pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from agora.aggregation.parse import LABELS
from agora.tasks.items import TaskItem


@dataclass(frozen=True)
class Extraction:
    """A canonical answer read from text (``None``: no answer found) and how it was found."""

    value: str | None
    method: str


NONE = Extraction(None, "none")


def _letter_patterns(letters: str) -> list[tuple[str, re.Pattern[str]]]:
    cls = f"[{letters}]"
    return [
        # "Answer: B", "the answer is (B)", "correct answer is B."
        (
            "answer-line",
            re.compile(rf"answer\**\s*(?:is|:|-)?\**\s*(?:option\s+)?\(?\**({cls})\**\)?(?![A-Za-z])", re.I),
        ),
        # "B", "B. paris", "(B) paris", "**B**" at the start of the reply
        ("leading-letter", re.compile(rf"^\W{{0,3}}({cls})(?:$|[\n).:,\]*])")),
        # "option B", "choice (C)"
        ("option-word", re.compile(rf"\b(?:option|choice|letter)\s+\(?({cls})\)?(?![A-Za-z])", re.I)),
        # "(B)" anywhere
        ("bracketed-letter", re.compile(rf"\(({cls})\)")),
    ]


def _answer_line(text: str, letters: str) -> Extraction:
    method, pattern = _letter_patterns(letters)[0]
    for match in pattern.finditer(text):
        if match.group(1) in letters:
            return Extraction(match.group(1), method)
    return NONE


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())


def extract_choice(text: str, choices: tuple[str, ...] | list[str]) -> Extraction:
    """The option a reply picks: a letter in an answer line, at the start or in brackets; else the one option
    whose text the reply names first."""
    letters = LABELS[: len(choices)]
    stripped = text.strip()
    if not stripped or not choices:
        return NONE
    listed = {m.group(1) for m in re.finditer(rf"^\W{{0,3}}([{letters}])[.)]", stripped, re.M)}
    if len(listed) >= 2:  # the reply restates the options: only an explicit answer line counts
        return _answer_line(stripped, letters)
    for method, pattern in _letter_patterns(letters):
        # case-insensitive patterns must still read an upper-case letter: "a" is an article
        for match in pattern.finditer(stripped):
            if match.group(1) in letters:
                return Extraction(match.group(1), method)
    said = f" {_normalise(stripped)} "
    found = []
    for i, choice in enumerate(choices):
        option = _normalise(choice)
        if option:
            at = said.find(f" {option} ")
            if at >= 0:
                found.append((at, -len(option), i))
    if found:
        return Extraction(letters[min(found)[2]], "option-text")
    return NONE


_YES_NO = re.compile(r"\b(yes|no|true|false)\b", re.I)


def extract_yes_no(text: str) -> Extraction:
    """``yes`` or ``no``: the first of yes/no/true/false in the reply."""
    match = _YES_NO.search(text)
    if not match:
        return NONE
    word = match.group(1).lower()
    value = "yes" if word in ("yes", "true") else "no"
    return Extraction(value, "word" if word in ("yes", "no") else "true-false")


_NUMBER = r"-?\$?\s?\d[\d,]*(?:\.\d+)?"
_FINAL_NUMBER = [
    ("hashes", re.compile(rf"####\s*({_NUMBER})")),
    ("answer-line", re.compile(rf"answer\s*(?:is|:|=)?\s*(?:about\s+)?({_NUMBER})", re.I)),
]


def canonical_number(raw: str) -> str | None:
    """``"$1,200.50"`` -> ``"1200.5"``; ``"18.0"`` -> ``"18"``; not a number -> ``None``."""
    cleaned = raw.replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def extract_number(text: str) -> Extraction:
    """The final number of a reply: after ``####`` or in an answer line, else the last number in the text."""
    for method, pattern in _FINAL_NUMBER:
        matches = pattern.findall(text)
        if matches:
            value = canonical_number(matches[-1])
            if value is not None:
                return Extraction(value, method)
    numbers = re.findall(_NUMBER, text)
    for raw in reversed(numbers):
        value = canonical_number(raw)
        if value is not None:
            return Extraction(value, "last-number")
    return NONE


def extract(item: TaskItem, text: str) -> Extraction:
    """The canonical answer ``text`` gives to ``item``."""
    if item.kind == "choice":
        return extract_choice(text, item.choices)
    if item.kind == "yesno":
        return extract_yes_no(text)
    return extract_number(text)


def gold_value(item: TaskItem) -> str:
    """The gold answer in the canonical form :func:`extract` returns."""
    if item.kind == "choice":
        assert isinstance(item.gold, int)
        return LABELS[item.gold]
    if item.kind == "number":
        return canonical_number(str(item.gold)) or str(item.gold)
    return str(item.gold)


def is_correct(item: TaskItem, text: str) -> bool:
    """Whether ``text`` answers ``item`` correctly (no answer found counts as wrong)."""
    return extract(item, text).value == gold_value(item)

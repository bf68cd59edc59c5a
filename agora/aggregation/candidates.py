"""Merging proposals that give the same answer into one candidate, so a split vote does not decide the outcome.

Two answers are the same candidate when they take the same position
(:func:`agora.aggregation.claims.same_position`): the same side of a yes/no question, stated ("No, ...", "Probably
not.") or as a verdict ("Public transport should not be free."), or, for answers that take no side, claims of the
same polarity ("ban" reads as "not allow") with similar enough content words (``threshold``, 0.7 by default). The
analysis groups answers into positions with the same rule, and the consensus early stop compares answers with it.

Merging is greedy in agent order: each answer joins the first group whose representative it matches, and the
representative (the first agent of the group) names the candidate. Ballots rank groups; the transcript records
which agents each candidate stands for. ``exact`` merging (canonical task answers) joins identical answers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agora.aggregation import claims
from agora.aggregation.claims import DEFAULT_THRESHOLD, same_position

__all__ = [
    "DEFAULT_THRESHOLD",
    "Candidate",
    "content_words",
    "merge_answers",
    "negated",
    "normalise",
    "same_answer",
    "same_position",
    "similarity",
    "stance",
]
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "you",
        "all",
        "any",
        "can",
        "had",
        "her",
        "was",
        "one",
        "our",
        "out",
        "has",
        "him",
        "his",
        "how",
        "its",
        "may",
        "new",
        "now",
        "see",
        "two",
        "who",
        "did",
        "get",
        "let",
        "say",
        "she",
        "too",
        "use",
        "that",
        "with",
        "this",
        "from",
        "they",
        "will",
        "would",
        "should",
        "could",
        "have",
        "been",
        "were",
        "what",
        "when",
        "where",
        "which",
        "there",
        "their",
        "them",
        "than",
        "then",
        "also",
        "into",
        "more",
        "most",
        "some",
        "such",
        "only",
        "very",
        "just",
        "because",
        "about",
        "your",
    ]
)


def normalise(answer: str) -> str:
    """Lower case, contractions spelled out ("shouldn't" -> "should not"), punctuation and extra spaces removed, a
    leading filler such as "I think" dropped."""
    return claims.normalise(answer)


def content_words(answer: str) -> frozenset[str]:
    """The answer's words of three letters or more, minus stop words, with a plural "s" removed (the persona
    fidelity metric's vocabulary; positions compare the words of :func:`agora.aggregation.claims.read`)."""
    words = set()
    for word in normalise(answer).split():
        if len(word) < 3 or word in _STOP:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return frozenset(words)


def stance(answer: str) -> str | None:
    """'yes' or 'no' when the answer states that side in its first words ("No, social media should not be
    banned", "Probably not."); else None ("No cars in the centre" takes no side)."""
    side = claims.read(answer).side
    return side if side in ("yes", "no") else None


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two answers' content words (1.0 for equal normalised answers)."""
    if normalise(a) == normalise(b):
        return 1.0
    wa, wb = content_words(a), content_words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def negated(answer: str) -> bool:
    """Whether the answer says no: it states "no" ("No, it should not be free" says no once: the leading "no" and
    the "not" agree), or, stating no side, its claim is negated, "ban" read as "not allow" and "not only ... but
    also" negating nothing (:func:`agora.aggregation.claims.read`)."""
    reading = claims.read(answer)
    side = claims.side_of(reading, None)
    return side == "no" if side is not None else reading.negated


def same_answer(a: str, b: str, threshold: float = DEFAULT_THRESHOLD, *, question: str | None = None) -> bool:
    """Whether two answers are one candidate: :func:`agora.aggregation.claims.same_position`."""
    return same_position(a, b, question=question, threshold=threshold)


@dataclass(frozen=True)
class Candidate:
    """One answer on the ballot: named by its first proposer, standing for every agent in ``members``."""

    id: str
    answer: str
    members: tuple[str, ...]


def merge_answers(
    answers: Mapping[str, str],
    threshold: float = DEFAULT_THRESHOLD,
    *,
    exact: bool = False,
    question: str | None = None,
) -> list[Candidate]:
    """Group ``agent -> answer`` (in the mapping's order) into candidates: answers that take the same position
    (:func:`agora.aggregation.claims.same_position`, on ``question`` when given) merge. ``exact``: only identical
    answers merge (canonical answers, such as a task's ``A`` or ``-3``, that similarity must not join)."""
    if exact:
        same: dict[str, list[str]] = {}
        for agent, answer in answers.items():
            same.setdefault(answer.strip(), []).append(agent)
        return [Candidate(g[0], answers[g[0]], tuple(g)) for g in same.values()]
    asked = claims.read_question(question)
    groups: list[list[str]] = []
    heads: list[claims.Reading] = []  # the reading of each group's first answer
    for agent, answer in answers.items():
        reading = claims.read(answer)
        for group, head in zip(groups, heads, strict=True):
            if claims.same_reading(head, reading, threshold, asked):
                group.append(agent)
                break
        else:
            groups.append([agent])
            heads.append(reading)
    return [Candidate(g[0], answers[g[0]], tuple(g)) for g in groups]

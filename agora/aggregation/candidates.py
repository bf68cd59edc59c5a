"""Merging proposals that give the same answer into one candidate, so a split vote does not decide the outcome.

Two answers are the same candidate when

1. their normalised forms are equal: lower case, punctuation and extra spaces removed, a leading filler such as
   "I think" or "in my opinion" dropped; or
2. they take the same side of a yes/no question: each is a bare "yes" or "no", or opens with one followed by a
   punctuation mark ("No, because ..."), and the two agree; or
3. for free text, both or neither are negated (an odd number of "not", "no", "never", ... once "n't" is spelled
   out), and their content words overlap enough: the Jaccard similarity of their sets of content words (words
   of three letters or more, minus a short list of stop words, with a plural "s" removed) is at least
   ``threshold`` (0.7 by default).

Merging is greedy in agent order: each answer joins the first group whose representative it matches, and the
representative (the first agent of the group) names the candidate. Ballots rank groups; the transcript records
which agents each candidate stands for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_THRESHOLD = 0.7

_FILLER = re.compile(
    r"^(?:i\s+(?:think|believe|would\s+say|would\s+argue)(?:\s+that)?|in\s+my\s+(?:opinion|view)|"
    r"my\s+answer\s+is|the\s+answer\s+is)\s*[:,]?\s*"
)
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
_YES_NO = re.compile(r"^(yes|no)\b")


_NEGATIONS = frozenset(["not", "no", "never", "none", "nothing", "nobody", "neither", "nor", "cannot"])


def normalise(answer: str) -> str:
    text = re.sub(r"n['’]t\b", " not", answer.lower())  # "shouldn't" -> "should not"
    text = re.sub(r"[^\w\s]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return _FILLER.sub("", text).strip()


def content_words(answer: str) -> frozenset[str]:
    words = set()
    for word in normalise(answer).split():
        if len(word) < 3 or word in _STOP:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return frozenset(words)


_LEADING_STANCE = re.compile(r"^\W*(yes|no)\s*[,.;:!\-–—]", re.IGNORECASE)


def stance(answer: str) -> str | None:
    """'yes' or 'no' when the answer is just that (a few words at most) or opens with it and a punctuation mark
    ("No, social media should not be banned"); else None ("No cars in the centre" takes no side)."""
    text = normalise(answer)
    match = _YES_NO.match(text)
    if match and len(text.split()) <= 3:
        return match.group(1)
    leading = _LEADING_STANCE.match(answer)
    return leading.group(1).lower() if leading else None


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the two answers' content words (1.0 for equal normalised answers)."""
    if normalise(a) == normalise(b):
        return 1.0
    wa, wb = content_words(a), content_words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def negated(answer: str) -> bool:
    """Whether the answer says no: an odd number of negation words."""
    return sum(word in _NEGATIONS for word in normalise(answer).split()) % 2 == 1


def same_answer(a: str, b: str, threshold: float = DEFAULT_THRESHOLD) -> bool:
    return _same(_Features.of(a), _Features.of(b), threshold)


@dataclass(frozen=True)
class _Features:
    """What :func:`same_answer` compares, computed once per answer (merging n answers compares many pairs)."""

    normalised: str
    stance: str | None
    negated: bool
    words: frozenset[str]

    @classmethod
    def of(cls, answer: str) -> _Features:
        return cls(normalise(answer), stance(answer), negated(answer), content_words(answer))


def _same(a: _Features, b: _Features, threshold: float) -> bool:
    if a.stance is not None or b.stance is not None:
        return a.stance == b.stance and a.stance is not None
    if a.negated != b.negated:  # "should ban" and "should not ban" share nearly every word
        return False
    if a.normalised == b.normalised:
        return True
    if not a.words or not b.words:
        return False
    return len(a.words & b.words) / len(a.words | b.words) >= threshold


@dataclass(frozen=True)
class Candidate:
    """One answer on the ballot: named by its first proposer, standing for every agent in ``members``."""

    id: str
    answer: str
    members: tuple[str, ...]


def merge_answers(
    answers: Mapping[str, str], threshold: float = DEFAULT_THRESHOLD, *, exact: bool = False
) -> list[Candidate]:
    """Group ``agent -> answer`` (in the mapping's order) into candidates. ``exact``: only identical answers
    merge (canonical answers, such as a task's ``A`` or ``-3``, that similarity must not join)."""
    if exact:
        same: dict[str, list[str]] = {}
        for agent, answer in answers.items():
            same.setdefault(answer.strip(), []).append(agent)
        return [Candidate(g[0], answers[g[0]], tuple(g)) for g in same.values()]
    groups: list[list[str]] = []
    heads: list[_Features] = []  # the features of each group's first answer
    for agent, answer in answers.items():
        features = _Features.of(answer)
        for group, head in zip(groups, heads, strict=True):
            if _same(head, features, threshold):
                group.append(agent)
                break
        else:
            groups.append([agent])
            heads.append(features)
    return [Candidate(g[0], answers[g[0]], tuple(g)) for g in groups]

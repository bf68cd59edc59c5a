"""Ranked ballots: what a voter was shown, and how its reply is read into a ranking.

A voter sees the candidates under letter labels (shuffled per voter with a seeded RNG, so no answer profits from
always being listed first) and is asked for the letters best first. :func:`parse_ranking` reads the reply robustly
and reports every fallback it took, which the transcript records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class ParsedRanking:
    ranking: list[list[str]]  # labels, best first; inner lists are ties
    method: str
    notes: list[str] = field(default_factory=list)

    @property
    def abstained(self) -> bool:
        return not self.ranking


_LETTER_LINE = r"[A-Z](?:\s*(?:,|>|;|/|\s|-|then)\s*[A-Z])*"


def _letters_in(segment: str, labels: set[str]) -> list[str]:
    return [m for m in re.findall(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])", segment) if m in labels]


def parse_ranking(text: str, labels: list[str]) -> ParsedRanking:
    """Read a ranking of ``labels`` (``["A", "B", ...]``) from a voter's reply.

    Tried in order: a line starting ``Ranking:``; a line made only of labels and separators (``B, A > C``); any
    standalone capital label in the text (skipping the article ``A`` before a lower-case word). Labels the reply
    does not mention are tied last. No label at all is an abstention.
    """
    label_set = set(labels)
    notes: list[str] = []
    found: list[str] = []
    method = "none"
    explicit = re.search(r"rank(?:ing)?\s*[:=]\s*(.+)", text, flags=re.IGNORECASE)
    if explicit:
        segment = explicit.group(1).split("\n")[0]
        found = _letters_in(segment, label_set)
        if not found and re.fullmatch(_LETTER_LINE, segment.strip().strip(".*`\"'"), flags=re.IGNORECASE):
            # "ranking: c, a": a line of nothing but lower-case labels
            found = _letters_in(segment.upper(), label_set)
            if found:
                notes.append("lower-case labels read as capitals")
        method = "ranking-line"
    if not found:
        for line in text.splitlines():
            stripped = line.strip().strip(".*`\"'")
            if stripped and re.fullmatch(_LETTER_LINE, stripped):
                candidate = _letters_in(stripped, label_set)
                if candidate:
                    found = candidate
                    method = "letter-line"
                    break
    if not found:
        article_free = re.sub(r"(?<![A-Za-z])A(?=\s+[a-z])", " ", text)
        found = _letters_in(article_free, label_set)
        if found:
            method = "letters-in-text"
            notes.append("no ranking line; read labels in the order they appear in the text")
    if not found:
        return ParsedRanking([], "abstain", [f"no label among {', '.join(labels)} found: ballot abstains"])
    seen: list[str] = []
    for label in found:
        if label in seen:
            notes.append(f"label {label} repeated: first mention kept")
            continue
        seen.append(label)
    ranking = [[label] for label in seen]
    missing = [label for label in labels if label not in seen]
    if missing:
        ranking.append(missing)
        notes.append(f"unranked {', '.join(missing)} placed last, tied")
    return ParsedRanking(ranking, method, notes)

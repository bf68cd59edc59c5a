"""Written ballots: what a voter was shown, and how its reply is read into a ranking or a set of approvals.

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


def _read_labels(text: str, labels: list[str], keyword: str, name: str) -> tuple[list[str], str, list[str]]:
    """The labels a reply names, in order, with the method used and every fallback noted.

    Tried in order: a line starting with ``keyword`` and a colon (``Ranking:``, ``Approve:``); a line made only of
    labels and separators (``B, A > C``); any standalone capital label in the text (skipping the article ``A``
    before a lower-case word). Repeats keep their first mention.
    """
    label_set = set(labels)
    notes: list[str] = []
    found: list[str] = []
    method = "none"
    explicit = re.search(keyword + r"\s*[:=]\s*(.+)", text, flags=re.IGNORECASE)
    if explicit:
        segment = explicit.group(1).split("\n")[0]
        found = _letters_in(segment, label_set)
        if not found and re.fullmatch(_LETTER_LINE, segment.strip().strip(".*`\"'"), flags=re.IGNORECASE):
            # "ranking: c, a": a line of nothing but lower-case labels
            found = _letters_in(segment.upper(), label_set)
            if found:
                notes.append("lower-case labels read as capitals")
        method = f"{name}-line"
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
    seen: list[str] = []
    for label in found:
        if label in seen:
            notes.append(f"label {label} repeated: first mention kept")
            continue
        seen.append(label)
    return seen, method, notes


RANKING_KEYWORD = r"rank(?:ing)?"
APPROVAL_KEYWORD = r"approv(?:e|ed|al|es)?"


def parse_ranking(text: str, labels: list[str]) -> ParsedRanking:
    """Read a ranking of ``labels`` (``["A", "B", ...]``) from a voter's reply (see :func:`_read_labels`).

    Labels the reply does not mention are tied last. No label at all is an abstention.
    """
    seen, method, notes = _read_labels(text, labels, RANKING_KEYWORD, "ranking")
    if not seen:
        return ParsedRanking([], "abstain", [f"no label among {', '.join(labels)} found: ballot abstains"])
    ranking = [[label] for label in seen]
    missing = [label for label in labels if label not in seen]
    if missing:
        ranking.append(missing)
        notes.append(f"unranked {', '.join(missing)} placed last, tied")
    return ParsedRanking(ranking, method, notes)


def parse_approval(text: str, labels: list[str]) -> ParsedRanking:
    """Read the labels a voter approves (an ``Approve:`` line, else as :func:`parse_ranking` falls back).

    The ranking is the approved labels tied first and the rest tied last; approving nothing is an abstention.
    """
    seen, method, notes = _read_labels(text, labels, APPROVAL_KEYWORD, "approval")
    if not seen:
        return ParsedRanking([], "abstain", [f"no label among {', '.join(labels)} approved: ballot abstains"])
    rest = [label for label in labels if label not in seen]
    return ParsedRanking([sorted(seen)] + ([rest] if rest else []), method, notes)

"""Written ballots: what a voter was shown, and how its reply is read into a ranking or a set of approvals.

A voter sees the candidates under letter labels (shuffled per voter with a seeded RNG, so no answer profits from
always being listed first) and is asked for the letters best first. :func:`parse_ranking` reads the reply robustly
and reports every fallback it took, which the transcript records.

A reply that cannot be read is an abstention with its reason, never a vote. So is a reply that **restates the
options** instead of choosing among them (``"A. No.\nB. Public transport should not be free.\nC"``: small models
often copy the list until their token limit): reading its labels in order would count the copy as a ranking in the
order shown, or its cut-off last line as a first choice. A reply that restates the options and also gives an
explicit ``Ranking:`` line is read from that line.
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


#: "B. some text" or "B) some text": a label followed by the text of an option
_LABELLED_TEXT = re.compile(r"(?<![A-Za-z])([A-Z])[.)]\s+(\S[^\n]*?)(?=\s+[A-Z][.)]\s|\n|$)")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def restated_options(text: str, labels: list[str], options: dict[str, str] | None = None) -> list[str]:
    """The labels whose option the reply writes out (``"B. <its text>"``), in order.

    With ``options`` (label -> the option's text, as shown), a label counts only when the words after it begin like
    its option's (half of the option's first four words, at least one); without, any label followed by text counts.
    """
    restated: list[str] = []
    for label, after in _LABELLED_TEXT.findall(text):
        if label not in labels or label in restated:
            continue
        if options is not None and label in options:
            start = _words(options[label])[:4]
            said = set(_words(after)[:8])
            if start and sum(w in said for w in start) < max(1, len(start) // 2):
                continue
        restated.append(label)
    return restated


def _abstention(
    text: str, labels: list[str], options: dict[str, str] | None, seen: list[str], explicit: bool, verb: str
) -> ParsedRanking | None:
    """The abstention a reply amounts to, or None when it chose: it restates the options (without an explicit
    ranking or approval line that names labels), or it names no label at all."""
    restated = restated_options(text, labels, options) if not (explicit and seen) else []
    if len(restated) >= 2:
        why = f"restates options {', '.join(restated)} instead of choosing among them: ballot abstains"
        return ParsedRanking([], "echo", [why])
    if not seen:
        return ParsedRanking([], "abstain", [f"no label among {', '.join(labels)} {verb}: ballot abstains"])
    return None


def parse_ranking(text: str, labels: list[str], options: dict[str, str] | None = None) -> ParsedRanking:
    """Read a ranking of ``labels`` (``["A", "B", ...]``) from a voter's reply (see :func:`_read_labels`).

    Labels the reply does not mention are tied last. No label at all is an abstention, and so is a reply that
    restates the options without an explicit ranking line (``options``: label -> text, sharpens that check).
    """
    seen, method, notes = _read_labels(text, labels, RANKING_KEYWORD, "ranking")
    abstention = _abstention(text, labels, options, seen, method == "ranking-line", "found")
    if abstention is not None:
        return abstention
    ranking = [[label] for label in seen]
    missing = [label for label in labels if label not in seen]
    if missing:
        ranking.append(missing)
        notes.append(f"unranked {', '.join(missing)} placed last, tied")
    return ParsedRanking(ranking, method, notes)


def parse_approval(text: str, labels: list[str], options: dict[str, str] | None = None) -> ParsedRanking:
    """Read the labels a voter approves (an ``Approve:`` line, else as :func:`parse_ranking` falls back).

    The ranking is the approved labels tied first and the rest tied last; approving nothing is an abstention, and so
    is restating the options without an explicit ``Approve:`` line.
    """
    seen, method, notes = _read_labels(text, labels, APPROVAL_KEYWORD, "approval")
    abstention = _abstention(text, labels, options, seen, method == "approval-line", "approved")
    if abstention is not None:
        return abstention
    rest = [label for label in labels if label not in seen]
    return ParsedRanking([sorted(seen)] + ([rest] if rest else []), method, notes)

"""Reading a judge's verdict: which debater won, or that the debate should go on.

A judge replies in free text. The verdict is the side named on a ``Winner:`` (or ``Decision:``) line, by agent name
or by role; "none", "neither", "undecided" or "continue" there means no decision yet. Without such a line the judge
has decided nothing, except in the final round, where the first agent or role its reply mentions is taken (and
the method says so). Pure functions; every reading records how it was made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_LINE = re.compile(r"^\W*(?:winner|decision|verdict)\W*[:\-]\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_UNDECIDED = re.compile(r"\b(?:none|neither|nobody|undecided|continue|no winner|tie)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    winner: str | None  # an agent name, or None: no decision
    method: str  # 'winner-line', 'undecided', 'first-mention', 'none'


def _mentions(text: str, names: Mapping[str, str]) -> list[tuple[int, str]]:
    """(position, agent) for every agent name or role named in ``text``, in order of first appearance."""
    found = []
    for word, agent in names.items():
        match = re.search(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE)
        if match:
            found.append((match.start(), agent))
    return sorted(found)


def parse_verdict(text: str, roles: Mapping[str, str], final: bool) -> Verdict:
    """The verdict in ``text``; ``roles`` maps each debater's name to its role."""
    names = {**{role: agent for agent, role in roles.items()}, **{agent: agent for agent in roles}}
    line = _LINE.search(text)
    if line:
        said = line.group(1)
        mentioned = _mentions(said, names)
        if mentioned and not _UNDECIDED.match(said.strip()):
            return Verdict(mentioned[0][1], "winner-line")
        if not final:
            return Verdict(None, "undecided")
    if final:
        mentioned = _mentions(text, names)
        if mentioned:
            return Verdict(mentioned[0][1], "first-mention")
    return Verdict(None, "none" if not line else "undecided")

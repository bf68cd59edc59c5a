"""Reading an agent's answer from its reply: the short answer a proposal stands for in the vote."""

from __future__ import annotations

import re

# "The answer to this question is: No, ..." -> "No, ..."
_FILLER = re.compile(
    r"^(?:the\s+)?(?:short\s+|final\s+)?answer(?:\s+to\s+(?:this|the)\s+question)?\s+is\s*(?:that\s*)?[:,]?\s*",
    re.IGNORECASE,
)


def extract_answer(text: str, max_chars: int) -> str:
    """The short answer of a proposal: an ``Answer:`` line if there is one, else the first sentence."""
    text = text.strip()
    match = re.search(
        r"^\s*\**(?:final\s+)?answer\**\s*[:\-]\s*(.+)$", text, flags=re.IGNORECASE | re.MULTILINE
    )
    if match and match.group(1).strip():
        answer = match.group(1).strip()
    else:
        first_line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
        parts = re.split(r"(?<=[.!?])\s+", first_line, maxsplit=1)
        answer = parts[0] if parts else ""
    answer = _FILLER.sub("", answer).strip(" *\"'")
    if answer[:1].islower():
        answer = answer[0].upper() + answer[1:]
    if len(answer) > max_chars:
        cut = answer[:max_chars].rsplit(" ", 1)[0]
        answer = (cut or answer[:max_chars]).rstrip(",;:") + "…"
    return answer

"""What each phase asks and what each agent sees: template contexts, short answers, candidate lists.

The engine decides *when* agents run; this module decides *what* they are shown. Everything here is pure.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from .backends.base import ChatMessage
from .ballots import LABELS
from .persona import Persona
from .transcript import MessageEvent


def derive_seed(seed: int, *parts: object) -> int:
    """A stable 31-bit seed for one random choice, derived from the run's seed (same inputs, same seed)."""
    digest = hashlib.sha256(":".join([str(seed), *map(str, parts)]).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def message_id(round: int, phase: str, agent: str) -> str:
    return f"r{round}.{phase}.{agent}"


def prompt_hash(messages: Sequence[ChatMessage]) -> str:
    blob = json.dumps([m.as_dict() for m in messages], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def persona_context(persona: Persona) -> SimpleNamespace:
    """What templates see as ``persona``: name, description, values (name, label, weight), top_value."""
    values = [
        SimpleNamespace(name=k, label=k.replace("_", " "), weight=round(v, 3))
        for k, v in persona.normalised_values.items()
    ]
    return SimpleNamespace(
        name=persona.name,
        description=persona.description.strip(),
        values=values,
        top_value=values[0].label,
    )


def message_context(m: MessageEvent) -> dict[str, Any]:
    return {"sender": m.agent, "text": m.text, "answer": m.answer, "phase": m.phase, "round": m.round}


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


def ballot_order(candidates: Sequence[str], seed: int, voter: str) -> dict[str, str]:
    """Labels shown to ``voter`` -> candidate id, in a per-voter seeded shuffle (no fixed position bias)."""
    order = list(candidates)
    random.Random(derive_seed(seed, "ballot", voter)).shuffle(order)
    return {LABELS[i]: cand for i, cand in enumerate(order)}

"""When a debate may end before its last round (pure functions; the engine asks after each phase and round).

- ``unanimous``: every agent's latest answer is the same answer, merged as for the vote (:mod:`agora.aggregation.candidates`).
- ``stable``: no agent's answer changed between its two latest answer phases (proposal or revision).
- a token budget: the agents have generated at least ``max_tokens`` tokens in all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agora.aggregation.candidates import merge_answers
from agora.transcript import MessageEvent

Answers = Mapping[str, MessageEvent]  # agent -> its latest proposal or revision


def _same(a: MessageEvent, b: MessageEvent, threshold: float, exact: bool) -> bool:
    return a.id == b.id or len(merge_answers({"a": a.answer, "b": b.answer}, threshold, exact=exact)) == 1


def consensus(
    mode: str, history: Sequence[Answers], agents: int, threshold: float, *, exact: bool = False
) -> str | None:
    """``mode`` ('unanimous' or 'stable') when it holds for the answers after each answer phase so far, else None
    (also for mode 'none' and while some agent has no answer yet). ``exact``: answers are the same only when
    identical (see :func:`agora.aggregation.candidates.merge_answers`)."""
    if mode == "none" or not history or len(history[-1]) < agents:
        return None
    now = history[-1]
    if mode == "unanimous":
        together = {n: m.answer or m.text[:200] for n, m in now.items()}
        return "unanimous" if len(merge_answers(together, threshold, exact=exact)) == 1 else None
    if len(history) < 2:
        return None
    before = history[-2]
    if all(name in before and _same(before[name], m, threshold, exact) for name, m in now.items()):
        return "stable"
    return None


def budget_spent(max_tokens: int | None, generated: int) -> str | None:
    """'token budget' once ``generated`` reaches ``max_tokens`` (None: no budget)."""
    return "token budget" if max_tokens is not None and generated >= max_tokens else None

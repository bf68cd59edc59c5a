"""When a debate may end before its last round (pure functions; the engine asks after each phase and round).

- ``unanimous``: every agent's latest answer takes the same position, merged as for the vote
  (:mod:`agora.aggregation.candidates`).
- ``stable``: no agent's position changed between its two latest answer phases (proposal or revision): a change of
  wording is no change.
- a token budget: the agents have generated at least ``max_tokens`` tokens in all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agora.aggregation.candidates import merge_answers
from agora.transcript import MessageEvent

Answers = Mapping[str, MessageEvent]  # agent -> its latest proposal or revision


def _same(a: MessageEvent, b: MessageEvent, threshold: float, exact: bool, question: str | None) -> bool:
    if a.id == b.id:
        return True
    return len(merge_answers({"a": a.answer, "b": b.answer}, threshold, exact=exact, question=question)) == 1


def consensus(
    mode: str,
    history: Sequence[Answers],
    agents: int,
    threshold: float,
    *,
    exact: bool = False,
    question: str | None = None,
) -> str | None:
    """``mode`` ('unanimous' or 'stable') when it holds for the answers after each answer phase so far, else None
    (also for mode 'none' and while some agent has no answer yet). Answers are the same when they take the same
    position on ``question`` (:func:`agora.aggregation.claims.same_position`), as the vote merges them; ``exact``:
    only when identical (see :func:`agora.aggregation.candidates.merge_answers`)."""
    if mode == "none" or not history or len(history[-1]) < agents:
        return None
    now = history[-1]
    if mode == "unanimous":
        together = {n: m.answer or m.text[:200] for n, m in now.items()}
        merged = merge_answers(together, threshold, exact=exact, question=question)
        return "unanimous" if len(merged) == 1 else None
    if len(history) < 2:
        return None
    before = history[-2]
    if all(name in before and _same(before[name], m, threshold, exact, question) for name, m in now.items()):
        return "stable"
    return None


def budget_spent(max_tokens: int | None, generated: int) -> str | None:
    """'token budget' once ``generated`` reaches ``max_tokens`` (None: no budget)."""
    return "token budget" if max_tokens is not None and generated >= max_tokens else None

"""Where each agent stands at each stage of a debate: the position table every metric is computed from.

A **stage** is a phase in which agents state answers (a proposal or a revision), named by its round and phase
("round 1 · propose", "round 1 · revise", "round 2 · revise"), in the order the debate ran them. An agent's
**answer at a stage** is the short answer of its latest successful proposal or revision up to and including that
stage (carried forward when it failed or was silent; absent before it first answered). Answers are
grouped into **positions** with the rule the vote uses to merge candidates
(:func:`agora.aggregation.claims.same_position`, on the debate's question): two answers are one position when they
answer the question the same way, whatever their wording, hedges and reasons, so a flip is a change of position. Positions are named ``P1, P2, ...`` in the order they first
appear (by round, then by agent order), and each keeps the first text that stated it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agora.aggregation import claims
from agora.aggregation.candidates import DEFAULT_THRESHOLD, normalise
from agora.transcript import MessageEvent, Transcript

#: the message kinds whose short answer states the agent's position
POSITION_KINDS = ("propose", "revise")


@dataclass(frozen=True)
class Positions:
    """``table[i][agent]`` is the agent's position id at stage ``i`` (agents without an answer yet are absent).

    ``stages[i]`` is that stage's ``(round, phase)``; ``answers`` maps each position id to the first answer text
    that stated it; ``agents`` keeps the debate's agent order.
    """

    agents: tuple[str, ...]
    stages: tuple[tuple[int, str], ...]
    table: tuple[Mapping[str, str], ...]
    answers: Mapping[str, str] = field(default_factory=dict)

    def label(self, stage: int) -> str:
        """A stage's name, e.g. "round 2 · revise"."""
        r, phase = self.stages[stage]
        return f"round {r} · {phase}"

    @property
    def labels(self) -> list[str]:
        return [self.label(i) for i in range(len(self.stages))]

    @property
    def final(self) -> Mapping[str, str]:
        """Positions after the last stage (empty when nobody answered)."""
        return self.table[-1] if self.table else {}


def group_answers(
    answers: Sequence[str], threshold: float | None = DEFAULT_THRESHOLD, *, question: str | None = None
) -> list[int]:
    """The position index of each answer: greedy, each answer joins the first earlier group whose first answer takes
    the same position on ``question`` (:func:`agora.aggregation.claims.same_position`; ``threshold`` None: only
    equal normalised forms match)."""
    asked = claims.read_question(question)
    firsts: list[str] = []
    out = []
    for answer in answers:
        for i, first in enumerate(firsts):
            same = (
                normalise(first) == normalise(answer)
                if threshold is None
                else claims.same_reading(claims.read(first), claims.read(answer), threshold, asked)
            )
            if same:
                out.append(i)
                break
        else:
            firsts.append(answer)
            out.append(len(firsts) - 1)
    return out


def build_positions(
    agents: Sequence[str],
    stages: Sequence[tuple[int, str]],
    answers: Mapping[tuple[int, str, str], str],
    threshold: float | None = DEFAULT_THRESHOLD,
    *,
    question: str | None = None,
) -> Positions:
    """Positions from ``(round, phase, agent) -> answer`` (only where the agent stated one), ``stages`` in order;
    answers are compared as answers to ``question``."""
    extra = sorted({a for _, _, a in answers if a not in agents})
    agents = tuple(agents) + tuple(extra)
    keys = [(r, ph, a) for r, ph in stages for a in agents if (r, ph, a) in answers]
    groups = group_answers([answers[k] for k in keys], threshold, question=question)
    ids = {k: f"P{g + 1}" for k, g in zip(keys, groups, strict=True)}
    texts: dict[str, str] = {}
    for k in keys:
        texts.setdefault(ids[k], answers[k])
    table: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for r, ph in stages:
        for agent in agents:
            if (r, ph, agent) in ids:
                current[agent] = ids[(r, ph, agent)]
        table.append({a: current[a] for a in agents if a in current})
    return Positions(agents, tuple(stages), tuple(table), texts)


def merge_threshold(transcript: Transcript) -> float | None:
    """The merge threshold of the transcript's protocol (None when its protocol does not merge answers)."""
    aggregation = transcript.header.protocol_spec.get("aggregation", {}) or {}
    if aggregation.get("merge") is False:
        return None
    return float(aggregation.get("merge_threshold", DEFAULT_THRESHOLD))


def message_answer(message: MessageEvent) -> str:
    """The short answer a message states (its text's beginning when no short answer was read)."""
    return message.answer or message.text[:200]


def positions(transcript: Transcript) -> Positions:
    """The position table of a transcript (see the module doc)."""
    answers: dict[tuple[int, str, str], str] = {}
    stages: list[tuple[int, str]] = []
    debaters = set(transcript.header.agents)
    for m in transcript.messages:
        if m.kind not in POSITION_KINDS or m.agent not in debaters:
            continue  # a mediator's statements are not a debater's position
        if (m.round, m.phase) not in stages:
            stages.append((m.round, m.phase))
        if m.ok and message_answer(m).strip():
            answers[(m.round, m.phase, m.agent)] = message_answer(m)
    return build_positions(
        transcript.header.agents,
        stages,
        answers,
        merge_threshold(transcript),
        question=transcript.header.question,
    )

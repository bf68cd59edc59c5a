"""What the round loop carries from phase to phase: the question, the round, what the next phase hears, and each
agent's latest answer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agora.transcript import MessageEvent

if TYPE_CHECKING:
    from agora.protocol.spec import PhaseKind


@dataclass
class RoundState:
    question: str
    round: int = 0
    #: the messages of the last phase whose messages are heard, by sender
    previous: dict[str, MessageEvent] = field(default_factory=dict)
    #: each agent's latest successful answer (proposal or revision)
    latest: dict[str, MessageEvent] = field(default_factory=dict)
    #: ``latest`` after each answer phase so far (early stopping compares the last two)
    answers: list[dict[str, MessageEvent]] = field(default_factory=list)

    def heard(self, messages: Iterable[MessageEvent], kind: PhaseKind) -> None:
        """A phase of ``kind`` produced ``messages``: the next phase hears them; answers become the agents' latest."""
        messages = list(messages)
        self.previous = {m.agent: m for m in messages}
        if kind.answers:
            self.latest.update({m.agent: m for m in messages if m.ok})
            self.answers.append(dict(self.latest))

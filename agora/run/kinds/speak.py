"""The phases in which every agent speaks: it hears its in-neighbours' messages of the previous phase and writes
one message. ``propose`` and ``revise`` messages are the agents' answers (their latest one is what each stands for
in the vote; a reply with no readable answer is a failed turn); ``critique`` messages are only heard."""

from __future__ import annotations

from agora.protocol.spec import PhaseKind, PhaseSpec
from agora.run.context import RunContext
from agora.run.state import RoundState


class Speak(PhaseKind):
    """Every agent writes one message, heard by the next phase."""

    async def run(self, run: RunContext, state: RoundState, phase: PhaseSpec) -> bool:
        state.heard(await run.turns.speak(state, phase), self)
        return False


class Propose(Speak):
    name = "propose"
    answers = True


class Critique(Speak):
    name = "critique"


class Revise(Speak):
    name = "revise"
    answers = True

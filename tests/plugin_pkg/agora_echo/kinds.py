"""A phase kind agora does not have: every agent rereads only its own latest answer (it hears nobody else) and
restates it. Its messages are answers, so the vote counts them."""

from __future__ import annotations

import time

from agora.protocol.spec import PhaseKind


class Reflect(PhaseKind):
    name = "reflect"
    answers = True

    async def run(self, run, state, phase) -> bool:
        start = time.perf_counter()

        async def one(name, earlier):
            return await run.turns.turn(state, phase, name, [], state.latest.get(name))

        messages = await run.turns.each(phase, state.round, run.order, one)
        run.record.close_phase(phase, state.round, start, messages)
        state.heard(messages, self)
        return False

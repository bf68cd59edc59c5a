"""The built-in phase kinds, registered on import (:mod:`agora.protocol.spec` says what a kind is)."""

from __future__ import annotations

from agora.protocol.spec import register_phase_kind
from agora.run.kinds.judge import Judge
from agora.run.kinds.speak import Critique, Propose, Revise
from agora.run.kinds.vote import Vote

for _kind in (Propose, Critique, Revise, Vote, Judge):
    register_phase_kind(_kind)

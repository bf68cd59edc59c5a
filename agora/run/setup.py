"""A debate as configured for one run: who takes part (in debate order), the protocol, the interaction graph, each
agent's backend, the seed, and how answers are read from replies."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import networkx as nx

from agora.backends.base import Backend
from agora.persona import Persona
from agora.protocol.loader import Protocol

#: reads a canonical answer from a reply, or None when it finds none
AnswerReader = Callable[[str], str | None]


class Setup:
    """What every part of a run reads and none changes."""

    def __init__(
        self,
        personas: Sequence[Persona],
        protocol: Protocol,
        graph: nx.DiGraph,
        backends: dict[str, Backend],
        seed: int,
        read_answer: AnswerReader | None = None,
    ):
        self.personas = {p.name: p for p in personas}
        self.order = [p.name for p in personas]
        self.agents = tuple(self.order)  # one shared copy for every prompt context, not one per agent
        #: agent -> role, for protocols that give roles (in debate order)
        self.roles: dict[str, str] = dict(zip(self.order, protocol.spec.roles, strict=False))
        self.protocol = protocol
        self.spec = protocol.spec
        self.graph = graph
        self.backends = backends  # persona name -> backend
        self.seed = seed
        #: reads a canonical answer from a reply (a task's answer extraction); answers it reads merge only when
        #: identical. None: the short answer of agora.run.answers.extract_answer, merged by similarity
        self.read_answer = read_answer

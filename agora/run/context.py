"""What a phase kind works with while a debate runs: the setup, the record and the turns."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from agora.backends.base import Backend
from agora.persona import Persona
from agora.protocol.loader import Protocol
from agora.run.record import ProgressCallback, Recorder
from agora.run.setup import AnswerReader, Setup
from agora.run.turns import Turns


class RunContext(Setup):
    """A :class:`Setup` with the transcript being recorded (``record``) and the means to ask agents (``turns``)."""

    def __init__(
        self,
        personas: Sequence[Persona],
        protocol: Protocol,
        graph: nx.DiGraph,
        backends: dict[str, Backend],
        seed: int,
        progress: ProgressCallback | None = None,
        read_answer: AnswerReader | None = None,
    ):
        super().__init__(personas, protocol, graph, backends, seed, read_answer)
        self.record = Recorder(self.spec, len(self.order), progress)
        self.turns = Turns(self, self.record)

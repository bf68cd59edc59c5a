"""What a phase kind works with while a debate runs: the setup, the record and the turns."""

from __future__ import annotations

from typing import Any

from agora.run.record import ProgressCallback, Recorder
from agora.run.setup import Setup
from agora.run.turns import Turns


class RunContext(Setup):
    """A :class:`Setup` (built from the same arguments) with the transcript being recorded (``record``, which sends
    ``progress`` notices) and the means to ask agents (``turns``)."""

    def __init__(self, *setup: Any, progress: ProgressCallback | None = None, **named: Any):
        super().__init__(*setup, **named)
        self.record = Recorder(self.spec, len(self.order), progress)
        self.turns = Turns(self, self.record)

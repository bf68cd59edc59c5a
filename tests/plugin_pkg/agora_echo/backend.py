"""A backend that answers without a model: ``model: echo:TEXT`` proposes ``Answer: TEXT`` and, shown candidates
under letters, ranks those that say TEXT first, the others after them in the order listed."""

from __future__ import annotations

import re

from agora.backends.base import Backend, Generation, GenerationRequest
from agora.errors import ModelNotFoundError
from agora.persona import Persona

CANDIDATE = re.compile(r"^([A-Z])\. (.*)$", re.MULTILINE)


class EchoBackend(Backend):
    """Built by agora as ``EchoBackend(ref, persona)`` for a card saying ``model: echo:REF``."""

    def __init__(self, ref: str, persona: Persona):
        if not ref.strip():
            raise ModelNotFoundError(
                "backend 'echo' needs a text: model: echo:TEXT", source=persona.source, field="model"
            )
        self.text = ref.strip()
        self.name = f"echo:{self.text}"

    async def generate(self, request: GenerationRequest) -> Generation:
        prompt = request.messages[-1].content
        candidates = CANDIDATE.findall(prompt)
        if candidates:
            mine = [label for label, text in candidates if text.strip() == self.text]
            others = [label for label, text in candidates if text.strip() != self.text]
            reply = "Ranking: " + ", ".join(mine + others)
        else:
            reply = f"Answer: {self.text}"
        return Generation(
            text=reply,
            prompt_tokens=sum(len(m.content.split()) for m in request.messages),
            completion_tokens=len(reply.split()),
            extra={"echo": True},
        )

    def describe(self) -> dict[str, object]:
        return {"backend": "echo", "name": self.name}

"""The backend contract: turn a chat prompt into text.

A backend answers two kinds of request:

- :meth:`Backend.generate` takes a :class:`GenerationRequest` (a chat prompt and how to decode it) and returns a
  :class:`Generation`;
- :meth:`Backend.score` takes a :class:`ScoreRequest` (a chat prompt and candidate continuations of the assistant's
  reply) and returns :class:`Scores`, the log-likelihood the model gives each continuation. Ballots use it.

Backends that run a local model batch the requests that reach them together (one phase's agents) into one forward
pass; callers never batch by hand. A backend that cannot score raises :class:`ScoringUnsupported`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt and how to decode it. ``temperature == 0`` means greedy."""

    messages: tuple[ChatMessage, ...]
    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    agent: str | None = None
    phase: str | None = None


@dataclass(frozen=True)
class Generation:
    """What a backend returns for one request."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: Literal["stop", "length"] = "stop"
    latency_s: float = 0.0
    batch_size: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoreRequest:
    """How likely is each continuation as the start of the assistant's reply to ``messages``?"""

    messages: tuple[ChatMessage, ...]
    continuations: tuple[str, ...]
    agent: str | None = None
    phase: str | None = None


@dataclass(frozen=True)
class Scores:
    """What a backend returns for one :class:`ScoreRequest`, one entry per continuation, in request order.

    ``logprobs[i]`` is the sum of the log-probabilities of continuation ``i``'s tokens given the prompt;
    ``tokens[i]`` is how many tokens it has, so ``logprobs[i] / tokens[i]`` is the per-token mean.
    """

    logprobs: tuple[float, ...]
    tokens: tuple[int, ...]
    prompt_tokens: int = 0
    latency_s: float = 0.0
    batch_size: int = 1

    @property
    def mean_logprobs(self) -> tuple[float, ...]:
        return tuple(lp / max(n, 1) for lp, n in zip(self.logprobs, self.tokens, strict=True))


class ScoringUnsupported(NotImplementedError):
    """This backend cannot give log-likelihoods (for example an endpoint without log-probabilities)."""


class Backend(ABC):
    """Something that answers chat prompts. Subclasses implement :meth:`generate`."""

    #: identifies the model in transcripts (for example ``smollm2-135m-instruct@sha256:...``)
    name: str = "backend"

    @abstractmethod
    async def generate(self, request: GenerationRequest) -> Generation:
        """Answer one request. Local backends batch concurrent calls together."""

    async def generate_many(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Answer several requests concurrently (batched where the backend can)."""
        return list(await asyncio.gather(*(self.generate(r) for r in requests)))

    async def score(self, request: ScoreRequest) -> Scores:
        """Log-likelihood of each continuation. Local backends batch concurrent calls and share the prompt's pass."""
        raise ScoringUnsupported(f"backend {self.name!r} cannot score continuations")

    async def score_many(self, requests: Sequence[ScoreRequest]) -> list[Scores]:
        return list(await asyncio.gather(*(self.score(r) for r in requests)))

    def describe(self) -> dict[str, Any]:
        """Identity of the model for the transcript header (name, file hash, dtype, ...)."""
        return {"backend": type(self).__name__, "name": self.name}

    async def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Load what is needed before the first request (default: nothing)."""

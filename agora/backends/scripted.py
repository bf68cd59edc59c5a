"""A backend that replies from a script: queued texts or a function. For protocol tests and model-free examples.

backend = ScriptedBackend(["Yes. Because ...", "No. Because ..."])          # replies in order
backend = ScriptedBackend(lambda req: f"{req.agent} says yes")              # computed replies
backend = ScriptedBackend(..., scorer=lambda req: [-1.0] * len(req.continuations))  # log-likelihoods
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Union

from agora.backends.base import (
    Backend,
    Generation,
    GenerationRequest,
    ScoreRequest,
    Scores,
    ScoringUnsupported,
)

Reply = Union[str, BaseException]  # noqa: UP007 - runtime alias
ReplyFunction = Callable[[GenerationRequest], Reply | Awaitable[Reply]]
ScoreFunction = Callable[[ScoreRequest], Sequence[float]]


class ScriptedBackend(Backend):
    """Replies with queued strings, or with what ``function(request)`` returns.

    A queued or returned exception is raised instead of answering, which lets tests inject faults. ``delay_s``
    simulates model latency without blocking the event loop. Every request is kept in :attr:`requests`.
    ``scorer(request)`` returns one log-likelihood per continuation (or raises); without it, :meth:`score` raises
    :class:`ScoringUnsupported`.
    """

    def __init__(
        self,
        replies: Iterable[Reply] | ReplyFunction | None = None,
        *,
        name: str = "scripted",
        delay_s: float = 0.0,
        scorer: ScoreFunction | None = None,
    ):
        self.name = name
        self.scorer = scorer
        self.score_requests: list[ScoreRequest] = []
        self.delay_s = delay_s
        self._function: ReplyFunction | None = None
        self._queue: deque[Reply] = deque()
        if callable(replies):
            self._function = replies
        elif replies is not None:
            self._queue.extend(replies)
        self.requests: list[GenerationRequest] = []

    def enqueue(self, *replies: Reply) -> None:
        self._queue.extend(replies)

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._function is not None:
            reply = self._function(request)
            if inspect.isawaitable(reply):
                reply = await reply
        elif self._queue:
            reply = self._queue.popleft()
        else:
            raise RuntimeError(
                f"scripted backend {self.name!r} has no reply left for agent {request.agent!r}"
            )
        if isinstance(reply, BaseException):
            raise reply
        prompt_words = sum(len(m.content.split()) for m in request.messages)
        words = reply.split()
        text = " ".join(words[: request.max_new_tokens]) if len(words) > request.max_new_tokens else reply
        return Generation(
            text=text,
            prompt_tokens=prompt_words,
            completion_tokens=min(len(words), request.max_new_tokens),
            finish_reason="length" if len(words) > request.max_new_tokens else "stop",
        )

    async def score(self, request: ScoreRequest) -> Scores:
        self.score_requests.append(request)
        if self.scorer is None:
            raise ScoringUnsupported(f"scripted backend {self.name!r} has no scorer")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        values = [float(v) for v in self.scorer(request)]
        if len(values) != len(request.continuations):
            raise ValueError(
                f"scorer returned {len(values)} scores for {len(request.continuations)} continuations"
            )
        return Scores(
            logprobs=tuple(values),
            tokens=tuple(max(1, len(c.split())) for c in request.continuations),
            prompt_tokens=sum(len(m.content.split()) for m in request.messages),
        )

    def describe(self) -> dict[str, object]:
        return {"backend": "scripted", "name": self.name}

"""The local backend: a Hugging Face ``transformers`` causal LM, batched, in a worker thread.

:class:`TransformersBackend` adapts the rest of this package to the Backend contract. Personas naming the same model
share one loaded instance through the model pool (:mod:`agora.backends.transformers.pool`); the requests of one phase
run as one left-padded batch (:mod:`~agora.backends.transformers.generate`), and scoring requests are batched too
(:mod:`~agora.backends.transformers.score`). Loading and placement are in :mod:`~agora.backends.transformers.loading`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from agora.backends.base import Backend, Generation, GenerationRequest, ScoreRequest, Scores
from agora.backends.catalog import locate, prepare
from agora.backends.transformers.generate import generate_batch
from agora.backends.transformers.loading import LoadedModel
from agora.backends.transformers.pool import DEFAULT_POOL, ModelPool
from agora.backends.transformers.score import check_continuations, score_batch


class TransformersBackend(Backend):
    """A local model from the catalog, a model directory or a GGUF file."""

    def __init__(
        self,
        model: str = "smollm2-135m-instruct",
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        pool: ModelPool | None = None,
        source: str | None = None,
        trust_remote_code: bool = False,
    ):
        self.location = locate(model, source=source, trust_remote_code=trust_remote_code)
        self.name = model
        self.device = device
        self.dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        self.pool = pool or DEFAULT_POOL
        self._loaded: LoadedModel | None = None

    def load(self) -> LoadedModel:
        if self._loaded is None:
            self.location = prepare(self.location)  # joins a model shipped in parts; verifies its sha256
            self._loaded = self.pool.get(self.location, self.device, self.dtype)
        return self._loaded

    async def warm_up(self) -> None:
        import asyncio

        await asyncio.to_thread(self.load)

    async def generate(self, request: GenerationRequest) -> Generation:
        if self._loaded is None:
            await self.warm_up()
        assert self._loaded is not None
        stop = self._loaded.prompt_format.stop
        if stop:  # a base model's turn ends where its few-shot layout starts the next one
            request = dataclasses.replace(request, stop=tuple(dict.fromkeys(request.stop + stop)))
        return await self._loaded.batcher.submit(request)

    def generate_sync(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Run ``requests`` as one batch in the calling thread (for benchmarks and tests)."""
        return generate_batch(self.load(), requests)

    async def score(self, request: ScoreRequest) -> Scores:
        check_continuations(request)  # here, so one bad request fails alone and not its whole batch
        if self._loaded is None:
            await self.warm_up()
        assert self._loaded is not None
        return await self._loaded.scorer.submit(request)

    def score_sync(self, requests: Sequence[ScoreRequest]) -> list[Scores]:
        """Score ``requests`` as one batch in the calling thread (for benchmarks and tests)."""
        for request in requests:
            check_continuations(request)
        return score_batch(self.load(), requests)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "transformers", "name": self.name}
        if self._loaded is not None:
            loaded = self._loaded.describe()
            info.update({k: loaded[k] for k in ("sha256", "device", "dtype", "memory_mb")})
        if self.location.licence:
            info["licence"] = self.location.licence
        return info

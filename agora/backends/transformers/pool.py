"""The model pool: one loaded instance per (model, device, dtype), shared by every persona and debate in the process.

Each loaded model gets one worker thread and two batchers on it, one for generation and one for scoring, so the
requests of one phase run as one batch and the model never runs two batches at once. ``DEFAULT_POOL.report()``
lists what is loaded and the memory its weights hold.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch

from agora.backends.batcher import Batcher
from agora.backends.catalog import ModelLocation
from agora.backends.transformers.generate import generate_batch
from agora.backends.transformers.loading import (
    LoadedModel,
    default_device,
    default_dtype,
    load_weights,
    prompt_format_for,
)
from agora.backends.transformers.score import score_batch


class ModelPool:
    """One loaded instance per (model, device, dtype), shared by every persona and debate in the process."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str, str], LoadedModel] = {}
        self._lock = threading.Lock()

    def get(
        self, location: ModelLocation, device: str | None = None, dtype: torch.dtype | None = None
    ) -> LoadedModel:
        device = device or default_device()
        dtype = dtype or default_dtype(device)
        key = (str(location.directory / (location.gguf_file or "")), device, str(dtype))
        with self._lock:
            loaded = self._models.get(key)
            if loaded is None:
                start = time.perf_counter()
                model, tokenizer, sha = load_weights(location, device, dtype)
                executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"agora-{location.ref}")
                loaded = LoadedModel(
                    ref=location.ref,
                    model=model,
                    tokenizer=tokenizer,
                    device=device,
                    dtype=dtype,
                    sha256=sha,
                    load_s=time.perf_counter() - start,
                    executor=executor,
                    batcher=None,  # type: ignore[arg-type]
                    scorer=None,  # type: ignore[arg-type]
                    prompt_format=prompt_format_for(location, tokenizer),
                )
                # both batchers share the model's one worker thread, so the model never runs two batches at once
                loaded.batcher = Batcher(
                    lambda reqs, control, lm=loaded: generate_batch(lm, reqs, control),
                    executor,
                    cancellable=True,
                )
                loaded.scorer = Batcher(lambda reqs, lm=loaded: score_batch(lm, reqs), executor)
                self._models[key] = loaded
            return loaded

    def loaded(self) -> list[LoadedModel]:
        return list(self._models.values())

    def memory_bytes(self) -> int:
        """Bytes of weights held by every model in the pool."""
        return sum(lm.memory_bytes() for lm in self.loaded())

    def report(self) -> list[dict[str, Any]]:
        """One line per loaded model: what it is, where it lives, and the memory its weights hold."""
        return [lm.describe() for lm in self.loaded()]

    def clear(self) -> None:
        with self._lock:
            for lm in self._models.values():
                lm.executor.shutdown(wait=False)
            self._models.clear()


DEFAULT_POOL = ModelPool()

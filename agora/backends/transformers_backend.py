"""The local backend: a Hugging Face ``transformers`` causal LM, batched, in a worker thread.

This is the only module that imports torch and transformers. Personas naming the same model share one loaded
instance through :class:`ModelPool`; the requests of one phase run as one left-padded batched ``generate``.
Greedy decoding by default; a request with ``temperature > 0`` samples with its own seeded generator, so its text
does not depend on which other requests share its batch.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Backend, Generation, GenerationRequest
from .batcher import Batcher
from .cache import file_sha256, publish
from .catalog import ModelLocation, locate

# PyTorch's OpenMP threads spin while idle; on a small machine that starves everything else. Must be set before
# torch is first imported to take effect.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

log = logging.getLogger("agora.backends.transformers")


def _configure_threads() -> None:
    wanted = os.environ.get("AGORA_NUM_THREADS")
    if wanted:
        torch.set_num_threads(max(1, int(wanted)))


_configure_threads()


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _default_dtype(device: str) -> torch.dtype:
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


@dataclass
class LoadedModel:
    """One model in memory with the single thread that runs it."""

    ref: str
    model: Any
    tokenizer: Any
    device: str
    dtype: torch.dtype
    sha256: str | None
    load_s: float
    executor: ThreadPoolExecutor
    batcher: Batcher[GenerationRequest, Generation]

    def memory_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters())


def _load_weights(location: ModelLocation, device: str, dtype: torch.dtype) -> tuple[Any, Any, str | None]:
    """Load tokenizer and model; GGUF files go through the safetensors cache."""
    sha = None
    directory = location.directory
    if location.gguf_file:
        gguf_path = location.directory / location.gguf_file
        sha = file_sha256(gguf_path)

        def build(target: Path) -> None:
            log.warning("converting %s to safetensors once (about half a minute)...", gguf_path.name)
            tok = AutoTokenizer.from_pretrained(location.directory, gguf_file=location.gguf_file)
            model = AutoModelForCausalLM.from_pretrained(location.directory, gguf_file=location.gguf_file)
            model.hf_quantizer = None  # a dequantized GGUF model is plain fp32 weights
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(target)
            tok.save_pretrained(target)

        directory = publish(build, sha)
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # loading from safetensors takes about a second: no bar needed
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=dtype, use_safetensors=True)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
    model.to(device)
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, sha


class ModelPool:
    """One loaded instance per (model, device, dtype), shared by every persona and debate in the process."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str, str], LoadedModel] = {}
        self._lock = threading.Lock()

    def get(
        self, location: ModelLocation, device: str | None = None, dtype: torch.dtype | None = None
    ) -> LoadedModel:
        device = device or _default_device()
        dtype = dtype or _default_dtype(device)
        key = (str(location.directory / (location.gguf_file or "")), device, str(dtype))
        with self._lock:
            loaded = self._models.get(key)
            if loaded is None:
                start = time.perf_counter()
                model, tokenizer, sha = _load_weights(location, device, dtype)
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
                )
                loaded.batcher = Batcher(lambda reqs, lm=loaded: _generate_batch(lm, reqs), executor)
                self._models[key] = loaded
            return loaded

    def loaded(self) -> list[LoadedModel]:
        return list(self._models.values())

    def clear(self) -> None:
        with self._lock:
            for lm in self._models.values():
                lm.executor.shutdown(wait=False)
            self._models.clear()


DEFAULT_POOL = ModelPool()


class _RowSampler(LogitsProcessor):
    """Samples rows with temperature > 0 using each row's own generator; greedy rows are left untouched.

    The chosen token is forced by masking every other logit, so the surrounding greedy ``generate`` picks it.
    """

    def __init__(self, requests: Sequence[GenerationRequest], generators: list[torch.Generator | None]):
        self.requests = requests
        self.generators = generators

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.clone()
        for row, (req, gen) in enumerate(zip(self.requests, self.generators, strict=True)):
            if gen is None:
                continue
            logits = scores[row].float() / req.temperature
            probs = torch.softmax(logits, dim=-1)
            if req.top_p < 1.0:
                sorted_probs, order = torch.sort(probs, descending=True)
                keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < req.top_p
                filtered = torch.zeros_like(probs)
                filtered[order[keep]] = probs[order[keep]]
                probs = filtered / filtered.sum()
            token = torch.multinomial(probs.cpu(), 1, generator=gen).item()
            scores[row] = float("-inf")
            scores[row, token] = 0.0
        return scores


class _RowStop(StoppingCriteria):
    """Stops each row at its own token budget or at one of its stop strings."""

    def __init__(self, requests: Sequence[GenerationRequest], prompt_len: int, tokenizer: Any):
        self.requests = requests
        self.prompt_len = prompt_len
        self.tokenizer = tokenizer

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self.prompt_len
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for row, req in enumerate(self.requests):
            if generated >= req.max_new_tokens:
                done[row] = True
            elif req.stop:
                text = self.tokenizer.decode(input_ids[row, self.prompt_len :], skip_special_tokens=True)
                done[row] = any(s in text for s in req.stop)
        return done


def render_chat(tokenizer: Any, request: GenerationRequest) -> str:
    messages = [m.as_dict() for m in request.messages]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _generate_batch(lm: LoadedModel, requests: Sequence[GenerationRequest]) -> list[Generation]:
    """Run one left-padded batched ``generate`` for ``requests`` (called in the model's worker thread)."""
    start = time.perf_counter()
    tok = lm.tokenizer
    prompts = [render_chat(tok, r) for r in requests]
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(lm.device)
    prompt_len = enc["input_ids"].shape[1]
    generators: list[torch.Generator | None] = []
    for r in requests:
        if r.temperature > 0:
            g = torch.Generator(device="cpu")
            g.manual_seed(r.seed if r.seed is not None else 0)
            generators.append(g)
        else:
            generators.append(None)
    processors = LogitsProcessorList([_RowSampler(requests, generators)] if any(generators) else [])
    eos = lm.model.generation_config.eos_token_id
    with torch.inference_mode():
        out = lm.model.generate(
            **enc,
            max_new_tokens=max(r.max_new_tokens for r in requests),
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            logits_processor=processors,
            stopping_criteria=StoppingCriteriaList([_RowStop(requests, prompt_len, tok)]),
            pad_token_id=tok.pad_token_id,
            eos_token_id=eos,
        )
    elapsed = time.perf_counter() - start
    eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
    results = []
    for row, req in enumerate(requests):
        new = out[row, prompt_len:].tolist()[: req.max_new_tokens]
        finish = "length"
        for i, token in enumerate(new):
            if token in eos_ids:
                new = new[:i]
                finish = "stop"
                break
        text = tok.decode(new, skip_special_tokens=True)
        for s in req.stop:
            cut = text.find(s)
            if cut >= 0:
                text = text[:cut]
                finish = "stop"
        results.append(
            Generation(
                text=text.strip(),
                prompt_tokens=int(enc["attention_mask"][row].sum()),
                completion_tokens=len(new),
                finish_reason=finish,  # type: ignore[arg-type]
                latency_s=elapsed,
                batch_size=len(requests),
            )
        )
    return results


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
    ):
        self.location = locate(model, source=source)
        self.name = model
        self.device = device
        self.dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        self.pool = pool or DEFAULT_POOL
        self._loaded: LoadedModel | None = None

    def load(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = self.pool.get(self.location, self.device, self.dtype)
        return self._loaded

    async def warm_up(self) -> None:
        import asyncio

        await asyncio.to_thread(self.load)

    async def generate(self, request: GenerationRequest) -> Generation:
        if self._loaded is None:
            await self.warm_up()
        assert self._loaded is not None
        return await self._loaded.batcher.submit(request)

    def generate_sync(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Run ``requests`` as one batch in the calling thread (for benchmarks and tests)."""
        return _generate_batch(self.load(), requests)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "transformers", "name": self.name}
        if self._loaded is not None:
            info.update(
                sha256=self._loaded.sha256,
                device=self._loaded.device,
                dtype=str(self._loaded.dtype).replace("torch.", ""),
            )
        if self.location.licence:
            info["licence"] = self.location.licence
        return info

"""The local backend: a Hugging Face ``transformers`` causal LM, batched, in a worker thread.

This module and its helper ``kv_cache`` are the only ones that import torch and transformers. Personas naming the
same model share one loaded instance through :class:`ModelPool`; the requests of one phase run as one left-padded
batched ``generate``.
Greedy decoding by default; a request with ``temperature > 0`` samples with its own seeded generator, so its text
does not depend on which other requests share its batch. Scoring requests run batched too: every prompt of the
batch goes through the model once, and its processed state (the KV cache) is shared by all of its continuations.

Placement goes through accelerate's ``device_map``: CPU in float32 by default, CUDA in bfloat16 when present, or
``device="auto"`` to spread a large model over the devices accelerate finds.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agora.backends.base import Backend, Generation, GenerationRequest, ScoreRequest, Scores
from agora.backends.batcher import BatchControl, Batcher
from agora.backends.cache import file_sha256, publish
from agora.backends.catalog import BASE_FEW_SHOT, CHAT, ModelLocation, PromptFormat, locate, prepare

# PyTorch's OpenMP threads spin while idle; on a small machine that starves everything else. Must be set before
# torch is first imported to take effect.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from agora.backends.transformers.kv_cache import release_freed_memory, slab_cache  # noqa: E402

log = logging.getLogger("agora.backends.transformers")


def _configure_threads() -> None:
    wanted = os.environ.get("AGORA_NUM_THREADS")
    if wanted:
        torch.set_num_threads(max(1, int(wanted)))


_configure_threads()


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _default_dtype(device: str) -> torch.dtype:
    if (
        (device.startswith("cuda") or device == "auto")
        and torch.cuda.is_available()
        and torch.cuda.is_bf16_supported()
    ):
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
    scorer: Batcher[ScoreRequest, Scores]
    prompt_format: PromptFormat = CHAT

    def memory_bytes(self) -> int:
        """Bytes held by the model's weights and buffers (shared by every persona that uses it)."""
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)

    def describe(self) -> dict[str, Any]:
        return {
            "model": self.ref,
            "sha256": self.sha256,
            "device": self.device,
            "dtype": str(self.dtype).replace("torch.", ""),
            "memory_mb": round(self.memory_bytes() / 2**20, 1),
            "load_s": round(self.load_s, 3),
        }


def _load_weights(location: ModelLocation, device: str, dtype: torch.dtype) -> tuple[Any, Any, str | None]:
    """Load tokenizer and model; GGUF files go through the safetensors cache."""
    sha = None
    directory = location.directory
    if location.gguf_file:
        gguf_path = location.directory / location.gguf_file
        sha = file_sha256(gguf_path)

        def build(target: Path) -> None:
            size_mb = gguf_path.stat().st_size / 1e6
            log.warning(
                "converting %s (%.0f MB) to safetensors once; on a CPU this takes from about 20 s (SmolLM2) to "
                "a few minutes, and later loads read the cache ...",
                gguf_path.name,
                size_mb,
            )
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
        # safetensors only, and a model's own code only where its card opted in (see agora.backends.safety)
        trust = location.trust_remote_code and not location.gguf_file
        tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=trust)
        # accelerate places the weights: one device by name, or "auto" to spread them over what it finds
        model = AutoModelForCausalLM.from_pretrained(
            directory, dtype=dtype, use_safetensors=True, device_map=device, trust_remote_code=trust
        )
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, sha


def _prompt_format(location: ModelLocation, tokenizer: Any) -> PromptFormat:
    """The catalog's format; a model without a chat template (a base model from a file) gets the few-shot one."""
    if location.prompt_format.kind == "chat" and not getattr(tokenizer, "chat_template", None):
        return BASE_FEW_SHOT
    return location.prompt_format


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
                    scorer=None,  # type: ignore[arg-type]
                    prompt_format=_prompt_format(location, tokenizer),
                )
                # both batchers share the model's one worker thread, so the model never runs two batches at once
                loaded.batcher = Batcher(
                    lambda reqs, control, lm=loaded: _generate_batch(lm, reqs, control),
                    executor,
                    cancellable=True,
                )
                loaded.scorer = Batcher(lambda reqs, lm=loaded: _score_batch(lm, reqs), executor)
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


def render_chat(tokenizer: Any, request: GenerationRequest | ScoreRequest, fmt: PromptFormat = CHAT) -> str:
    """The prompt text: the model's chat template, or for a base model its few-shot layout (after BOS)."""
    if fmt.kind == "few-shot":
        return (tokenizer.bos_token or "") + fmt.render(request.messages)
    messages = [m.as_dict() for m in request.messages]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def _prompt_tokens(
    tokenizer: Any, requests: Sequence[GenerationRequest | ScoreRequest], fmt: PromptFormat = CHAT
) -> list[list[int]]:
    """Each request's prompt, rendered in the model's prompt format and tokenised."""
    return [
        tokenizer(render_chat(tokenizer, r, fmt), add_special_tokens=False)["input_ids"] for r in requests
    ]


#: the shortest common prompt prefix (in tokens) worth processing once for a whole batch
MIN_SHARED_PREFIX = 16


def _shared_prefix(rows: Sequence[list[int]]) -> int:
    """How many leading tokens every row has in common, leaving each row at least one token of its own."""
    if len(rows) < 2:
        return 0
    shortest = min(len(r) for r in rows)
    n = 0
    while n < shortest - 1 and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


def _batch_inputs(
    rows: Sequence[list[int]], shared: int, pad: int, device: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[shared prefix][left padding][own suffix]`` per row, with its attention mask.

    Every row ends at the same column, so the batch decodes in step; padding sits between the shared prefix and each
    row's own tokens and is masked out (positions follow the mask, so each row sees exactly its own prompt).
    """
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :shared] = torch.tensor(row[:shared])
        mask[i, :shared] = 1
        own = row[shared:]
        ids[i, width - len(own) :] = torch.tensor(own)
        mask[i, width - len(own) :] = 1
    return ids.to(device), mask.to(device)


class _Row:
    """One request's decoding state: its tokens so far, its own sampler, and why it finished."""

    def __init__(self, request: GenerationRequest, eos: set[int]):
        self.request = request
        self.eos = eos
        self.tokens: list[int] = []
        self.finish: str | None = None
        self.generator: torch.Generator | None = None
        if request.temperature > 0:
            self.generator = torch.Generator(device="cpu")
            self.generator.manual_seed(request.seed if request.seed is not None else 0)

    def choose(self, logits: torch.Tensor) -> int:
        """Greedy, or a draw from this row's own seeded generator (so the batch around it does not matter)."""
        if self.generator is None:
            return int(logits.argmax())
        probs = torch.softmax(logits.float().cpu() / self.request.temperature, dim=-1)
        if self.request.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, descending=True)
            drop = torch.cumsum(sorted_probs, dim=-1) - sorted_probs >= self.request.top_p
            probs[order[drop]] = 0.0
            probs = probs / probs.sum()
        return int(torch.multinomial(probs, 1, generator=self.generator))

    def add(self, token: int, tokenizer: Any) -> bool:
        """Record ``token``; return True while the row wants more."""
        if token in self.eos:
            self.finish = "stop"
            return False
        self.tokens.append(token)
        if self.request.stop:
            text = tokenizer.decode(self.tokens, skip_special_tokens=True)
            if any(s in text for s in self.request.stop):
                self.finish = "stop"
                return False
        if len(self.tokens) >= self.request.max_new_tokens:
            self.finish = "length"
            return False
        return True


#: prompt tokens (summed over the batch's rows) processed per forward pass; bounds the pass's temporary tensors
PREFILL_TOKENS_PER_PASS = 512


def _prefill(
    model: Any, input_ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, start: int, cache: Any
) -> Any:
    """Run the prompt columns from ``start`` on through the model into ``cache``; return the last pass's output.

    The columns go in slices of about :data:`PREFILL_TOKENS_PER_PASS` tokens over all rows, so the temporary tensors
    of a pass stay small next to the cache however many rows the batch has; each slice attends to everything before
    it through the cache: the computation of one pass over the whole prompt, up to rounding.
    """
    cache_arg = _cache_argument(model)
    width = input_ids.shape[1]
    step = max(1, PREFILL_TOKENS_PER_PASS // input_ids.shape[0])
    out = None
    for begin in range(start, width, step):
        end = min(width, begin + step)
        out = model(
            input_ids=input_ids[:, begin:end],
            attention_mask=mask[:, :end],
            position_ids=positions[:, begin:end],
            use_cache=True,
            logits_to_keep=1,
            **({cache_arg: cache} if cache is not None else {}),
        )
        cache = _cache_of(out)
    return out


def _decode(
    lm: LoadedModel,
    input_ids: torch.Tensor,
    mask: torch.Tensor,
    shared: int,
    rows: list[_Row],
    control: BatchControl[Generation] | None = None,
    finished: Callable[[int], None] | None = None,
) -> None:
    """Decode a batch step by step; a row that finishes leaves the batch, so it costs nothing more.

    ``finished(i)`` is called as row ``i`` finishes. A row nobody waits for any more (``control.abandoned``, e.g. its
    caller timed out) leaves the batch at the next step, so a runaway request does not keep the worker busy.
    """
    model = lm.model
    cache_arg = _cache_argument(model)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        # one block for the whole batch's cache, sized for its longest row (None: the model needs its own kind)
        longest = input_ids.shape[1] + max(row.request.max_new_tokens for row in rows)
        cache = slab_cache(model, len(rows), longest)
        if shared:  # the common prefix runs once, for one row, and its cache is copied to every row
            prefix = _prefill(
                model, input_ids[:1, :shared], mask[:1, :shared], positions[:1, :shared], 0, cache
            )
            cache = _cache_of(prefix)
            cache.batch_repeat_interleave(len(rows))
        out = _prefill(model, input_ids, mask, positions, shared, cache)
        release_freed_memory()  # the prompt passes' temporaries, before the cache grows to its longest
        active = list(range(len(rows)))
        next_position = positions[:, -1] + 1
        while True:
            logits = out.logits[:, -1, :]
            chosen: dict[int, int] = {}
            keep = []
            for k, i in enumerate(active):
                row = rows[i]
                if control is not None and control.abandoned(i):
                    row.finish = "length"  # nobody waits for this row: stop decoding it
                    continue
                chosen[k] = row.choose(logits[k])
                if row.add(chosen[k], lm.tokenizer):
                    keep.append(k)
                elif finished is not None:
                    finished(i)
            if not keep:
                return
            cache = _cache_of(out)
            if len(keep) < len(active):
                index = torch.tensor(keep, device=mask.device)
                cache.batch_select_indices(index)
                mask, next_position = mask[index], next_position[index]
                active = [active[k] for k in keep]
            tokens = torch.tensor([[chosen[k]] for k in keep], device=mask.device)
            mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=-1)
            out = model(
                input_ids=tokens,
                attention_mask=mask,
                position_ids=next_position[:, None],
                use_cache=True,
                **{cache_arg: cache},
            )
            next_position = next_position + 1


def _generate_batch(
    lm: LoadedModel, requests: Sequence[GenerationRequest], control: BatchControl[Generation] | None = None
) -> list[Generation]:
    """Run one batch of ``requests`` (called in the model's worker thread).

    When the prompts begin alike (the protocol's preamble and the question come before each persona), the common
    prefix runs once and its KV cache is shared by every row; only each row's own tokens are processed per row.
    With ``control``, each result is delivered as soon as its row finishes, and rows nobody waits for are dropped.
    """
    start = time.perf_counter()
    tok = lm.tokenizer
    prompts = _prompt_tokens(tok, requests, lm.prompt_format)
    shared = _shared_prefix(prompts)
    input_ids, mask = _batch_inputs(prompts, shared, tok.pad_token_id, lm.model.device)
    eos = lm.model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
    rows = [_Row(r, eos_ids) for r in requests]

    def result(i: int) -> Generation:
        row = rows[i]
        text = tok.decode(row.tokens, skip_special_tokens=True)
        for s in row.request.stop:
            cut = text.find(s)
            if cut >= 0:
                text = text[:cut]
        return Generation(
            text=text.strip(),
            prompt_tokens=len(prompts[i]),
            completion_tokens=len(row.tokens),
            finish_reason=row.finish or "length",  # type: ignore[arg-type]
            latency_s=time.perf_counter() - start,
            batch_size=len(requests),
            extra={"shared_prefix_tokens": shared} if shared else {},
        )

    def finished(i: int) -> None:
        if control is not None:
            control.deliver(i, result(i))

    _decode(lm, input_ids, mask, shared, rows, control, finished)
    return [result(i) for i in range(len(rows))]


def _cache_of(output: Any) -> Any:
    """The KV cache a forward pass returned (``cache`` in recent transformers, ``past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def _cache_argument(model: Any) -> str:
    """The name ``forward`` takes a KV cache under: ``cache`` in recent transformers, ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


#: continuation tokens scored per forward pass; bounds the logits tensor (tokens x vocabulary) a pass holds
SCORE_TOKENS_PER_PASS = 512


def _score_batch(lm: LoadedModel, requests: Sequence[ScoreRequest]) -> list[Scores]:
    """Log-likelihoods of every request's continuations (called in the model's worker thread).

    Pass 1 runs all prompts (left-padded) once and keeps their KV cache. Pass 2 runs the continuations of every
    request (right-padded), each row reading its own prompt's cache, so a prompt is processed once however many
    continuations it has. The first token of a continuation is scored from the prompt's last position.
    """
    start = time.perf_counter()
    tok = lm.tokenizer
    device = lm.model.device
    input_ids, mask = _batch_inputs(
        _prompt_tokens(tok, requests, lm.prompt_format), 0, tok.pad_token_id, device
    )
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        out = lm.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,
        )
        first = torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)  # (prompts, vocab)
        prompt_cache = _cache_of(out)
        rows: list[tuple[int, int, list[int]]] = []  # (request, continuation, token ids)
        for i, req in enumerate(requests):
            for j, text in enumerate(req.continuations):
                ids = tok(text, add_special_tokens=False)["input_ids"]
                rows.append((i, j, ids))
        totals: dict[tuple[int, int], float] = {}
        for i, j, ids in rows:
            totals[(i, j)] = float(first[i, ids[0]])
        # continuations longer than one token need a second pass over their remaining tokens
        for chunk in _chunks([row for row in rows if len(row[2]) > 1], SCORE_TOKENS_PER_PASS):
            _score_chunk(lm, chunk, prompt_cache, mask, totals)
    elapsed = time.perf_counter() - start
    results = []
    for i, req in enumerate(requests):
        lengths = [len(ids) for k, _, ids in rows if k == i]
        results.append(
            Scores(
                logprobs=tuple(totals[(i, j)] for j in range(len(req.continuations))),
                tokens=tuple(lengths),
                prompt_tokens=int(mask[i].sum()),
                latency_s=elapsed,
                batch_size=len(requests),
            )
        )
    return results


def _chunks(rows: list[tuple[int, int, list[int]]], budget: int) -> list[list[tuple[int, int, list[int]]]]:
    """Split rows into consecutive groups of at most ``budget`` tokens (a longer row goes alone)."""
    groups: list[list[tuple[int, int, list[int]]]] = []
    used = budget
    for row in rows:
        if used + len(row[2]) > budget:
            groups.append([])
            used = 0
        groups[-1].append(row)
        used += len(row[2])
    return groups


def _score_chunk(
    lm: LoadedModel,
    chunk: Sequence[tuple[int, int, list[int]]],
    prompt_cache: Any,
    prompt_mask: torch.Tensor,
    totals: dict[tuple[int, int], float],
) -> None:
    """Add the log-probabilities of tokens 2.. of each continuation in ``chunk`` to ``totals``."""
    device = prompt_mask.device
    index = torch.tensor([i for i, _, _ in chunk], device=device)
    width = max(len(ids) for _, _, ids in chunk) - 1
    pad = lm.tokenizer.pad_token_id
    inputs = torch.full((len(chunk), width), pad, dtype=torch.long, device=device)
    cont_mask = torch.zeros((len(chunk), width), dtype=prompt_mask.dtype, device=device)
    for row, (_, _, ids) in enumerate(chunk):
        # feed tokens 1..n-1; position t predicts token t+1
        inputs[row, : len(ids) - 1] = torch.tensor(ids[:-1], device=device)
        cont_mask[row, : len(ids) - 1] = 1
    cache = copy.deepcopy(prompt_cache)
    cache.batch_select_indices(index)
    starts = prompt_mask.sum(-1)[index]  # each prompt's real length: the position of its continuation
    positions = starts[:, None] + torch.arange(width, device=device)[None, :]
    out = lm.model(
        input_ids=inputs,
        attention_mask=torch.cat([prompt_mask[index], cont_mask], dim=-1),
        position_ids=positions,
        use_cache=True,
        **{_cache_argument(lm.model): cache},
    )
    logprobs = torch.log_softmax(out.logits.float(), dim=-1)
    for row, (i, j, ids) in enumerate(chunk):
        targets = torch.tensor(ids[1:], device=device)
        picked = logprobs[row, torch.arange(len(ids) - 1, device=device), targets]
        totals[(i, j)] += float(picked.sum())


def _check_continuations(request: ScoreRequest) -> None:
    for j, text in enumerate(request.continuations):
        if not text.strip():
            raise ValueError(f"continuation {j} for agent {request.agent!r} is empty")


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
        return _generate_batch(self.load(), requests)

    async def score(self, request: ScoreRequest) -> Scores:
        _check_continuations(request)  # here, so one bad request fails alone and not its whole batch
        if self._loaded is None:
            await self.warm_up()
        assert self._loaded is not None
        return await self._loaded.scorer.submit(request)

    def score_sync(self, requests: Sequence[ScoreRequest]) -> list[Scores]:
        """Score ``requests`` as one batch in the calling thread (for benchmarks and tests)."""
        for request in requests:
            _check_continuations(request)
        return _score_batch(self.load(), requests)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": "transformers", "name": self.name}
        if self._loaded is not None:
            loaded = self._loaded.describe()
            info.update({k: loaded[k] for k in ("sha256", "device", "dtype", "memory_mb")})
        if self.location.licence:
            info["licence"] = self.location.licence
        return info

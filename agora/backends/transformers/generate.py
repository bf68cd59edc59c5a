"""Generation: one batch of requests through the model, prompt passes first, then decoding step by step.

The requests of a batch run together, left-padded (see :mod:`agora.backends.transformers.inputs`); a row that
finishes leaves the batch. Greedy decoding by default; a request with ``temperature > 0`` samples with its own seeded
generator, so its text does not depend on which other requests share its batch. When the prompts begin alike, their
common prefix runs once and its KV cache is shared by every row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from agora.backends.base import Generation, GenerationRequest
from agora.backends.batcher import BatchControl
from agora.backends.transformers.inputs import batch_inputs, prompt_tokens, shared_prefix
from agora.backends.transformers.kv_cache import cache_argument, cache_of, release_freed_memory, slab_cache
from agora.backends.transformers.loading import LoadedModel


class Row:
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
    cache_arg = cache_argument(model)
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
        cache = cache_of(out)
    return out


def decode(
    lm: LoadedModel,
    input_ids: torch.Tensor,
    mask: torch.Tensor,
    shared: int,
    rows: list[Row],
    control: BatchControl[Generation] | None = None,
    finished: Callable[[int], None] | None = None,
) -> None:
    """Decode a batch step by step; a row that finishes leaves the batch, so it costs nothing more.

    ``input_ids`` and ``mask`` are the batch's prompts as :func:`~agora.backends.transformers.inputs.batch_inputs`
    lays them out, the first ``shared`` columns common to every row; ``rows`` collect each request's tokens.
    ``finished(i)`` is called as row ``i`` finishes. A row nobody waits for any more (``control.abandoned``, e.g. its
    caller timed out) leaves the batch at the next step, so a runaway request does not keep the worker busy.
    """
    model = lm.model
    cache_arg = cache_argument(model)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        # one block for the whole batch's cache, sized for its longest row (None: the model needs its own kind)
        longest = input_ids.shape[1] + max(row.request.max_new_tokens for row in rows)
        cache = slab_cache(model, len(rows), longest)
        if shared:  # the common prefix runs once, for one row, and its cache is copied to every row
            prefix = _prefill(
                model, input_ids[:1, :shared], mask[:1, :shared], positions[:1, :shared], 0, cache
            )
            cache = cache_of(prefix)
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
            cache = cache_of(out)
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


def generate_batch(
    lm: LoadedModel, requests: Sequence[GenerationRequest], control: BatchControl[Generation] | None = None
) -> list[Generation]:
    """Run one batch of ``requests`` (called in the model's worker thread).

    When the prompts begin alike (the protocol's preamble and the question come before each persona), the common
    prefix runs once and its KV cache is shared by every row; only each row's own tokens are processed per row.
    With ``control``, each result is delivered as soon as its row finishes, and rows nobody waits for are dropped.
    """
    start = time.perf_counter()
    tok = lm.tokenizer
    prompts = prompt_tokens(tok, requests, lm.prompt_format)
    shared = shared_prefix(prompts)
    input_ids, mask = batch_inputs(prompts, shared, tok.pad_token_id, lm.model.device)
    eos = lm.model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else set()
    rows = [Row(r, eos_ids) for r in requests]

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

    decode(lm, input_ids, mask, shared, rows, control, finished)
    return [result(i) for i in range(len(rows))]

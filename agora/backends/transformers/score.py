"""Scoring: the log-likelihoods of every request's continuations, for one batch of requests.

Every prompt of the batch goes through the model once, and its processed state (the KV cache) is shared by all of
its continuations; the continuations then run in passes of at most :data:`SCORE_TOKENS_PER_PASS` tokens.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any

import torch

from agora.backends.base import ScoreRequest, Scores
from agora.backends.transformers.inputs import batch_inputs, prompt_tokens
from agora.backends.transformers.kv_cache import cache_argument, cache_of
from agora.backends.transformers.loading import LoadedModel

#: continuation tokens scored per forward pass; bounds the logits tensor (tokens x vocabulary) a pass holds
SCORE_TOKENS_PER_PASS = 512


def check_continuations(request: ScoreRequest) -> None:
    """Refuse a request with an empty (or blank) continuation, naming its agent."""
    for j, text in enumerate(request.continuations):
        if not text.strip():
            raise ValueError(f"continuation {j} for agent {request.agent!r} is empty")


def score_batch(lm: LoadedModel, requests: Sequence[ScoreRequest]) -> list[Scores]:
    """Log-likelihoods of every request's continuations (called in the model's worker thread).

    Pass 1 runs all prompts (left-padded) once and keeps their KV cache. Pass 2 runs the continuations of every
    request (right-padded), each row reading its own prompt's cache, so a prompt is processed once however many
    continuations it has. The first token of a continuation is scored from the prompt's last position.
    """
    start = time.perf_counter()
    tok = lm.tokenizer
    device = lm.model.device
    input_ids, mask = batch_inputs(
        prompt_tokens(tok, requests, lm.prompt_format), 0, tok.pad_token_id, device
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
        prompt_cache = cache_of(out)
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
        **{cache_argument(lm.model): cache},
    )
    logprobs = torch.log_softmax(out.logits.float(), dim=-1)
    for row, (i, j, ids) in enumerate(chunk):
        targets = torch.tensor(ids[1:], device=device)
        picked = logprobs[row, torch.arange(len(ids) - 1, device=device), targets]
        totals[(i, j)] += float(picked.sum())

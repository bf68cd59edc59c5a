"""Requests into model inputs: each prompt rendered and tokenised, and a batch's rows laid out as tensors.

The layout is left-padded so every row ends at the same column; when the prompts begin alike, their common prefix
stays at the front, unpadded, so it can be run once for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from agora.backends.base import GenerationRequest, ScoreRequest
from agora.backends.catalog import CHAT, PromptFormat


def render_chat(tokenizer: Any, request: GenerationRequest | ScoreRequest, fmt: PromptFormat = CHAT) -> str:
    """The prompt text: the model's chat template, or for a base model its few-shot layout (after BOS)."""
    if fmt.kind == "few-shot":
        return (tokenizer.bos_token or "") + fmt.render(request.messages)
    messages = [m.as_dict() for m in request.messages]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def prompt_tokens(
    tokenizer: Any, requests: Sequence[GenerationRequest | ScoreRequest], fmt: PromptFormat = CHAT
) -> list[list[int]]:
    """Each request's prompt, rendered in the model's prompt format and tokenised."""
    return [
        tokenizer(render_chat(tokenizer, r, fmt), add_special_tokens=False)["input_ids"] for r in requests
    ]


#: the shortest common prompt prefix (in tokens) worth processing once for a whole batch
MIN_SHARED_PREFIX = 16


def shared_prefix(rows: Sequence[list[int]]) -> int:
    """How many leading tokens every row has in common, leaving each row at least one token of its own.

    0 for a single row, or when the common prefix is shorter than :data:`MIN_SHARED_PREFIX`.
    """
    if len(rows) < 2:
        return 0
    shortest = min(len(r) for r in rows)
    n = 0
    while n < shortest - 1 and all(r[n] == rows[0][n] for r in rows):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


def batch_inputs(
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

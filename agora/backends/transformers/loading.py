"""A model into memory: tokenizer and weights, the prompt format it answers to, and where and how it runs.

Placement goes through accelerate's ``device_map``: CPU in float32 by default, CUDA in bfloat16 when present, or
``device="auto"`` to spread a large model over the devices accelerate finds. A GGUF file is converted once to
safetensors in agora's cache and loaded from there. ``AGORA_NUM_THREADS`` sets torch's thread count when this module
is imported.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from agora.backends.base import Generation, GenerationRequest, ScoreRequest, Scores
from agora.backends.batcher import Batcher
from agora.backends.cache import file_sha256, publish
from agora.backends.catalog import BASE_FEW_SHOT, CHAT, ModelLocation, PromptFormat

log = logging.getLogger("agora.backends.transformers")


def _configure_threads() -> None:
    wanted = os.environ.get("AGORA_NUM_THREADS")
    if wanted:
        torch.set_num_threads(max(1, int(wanted)))


_configure_threads()


def default_device() -> str:
    """CUDA when torch sees a GPU, else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str) -> torch.dtype:
    """bfloat16 on a CUDA device that supports it (or ``"auto"`` placement with one present), else float32."""
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


def load_weights(location: ModelLocation, device: str, dtype: torch.dtype) -> tuple[Any, Any, str | None]:
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


def prompt_format_for(location: ModelLocation, tokenizer: Any) -> PromptFormat:
    """The catalog's format; a model without a chat template (a base model from a file) gets the few-shot one."""
    if location.prompt_format.kind == "chat" and not getattr(tokenizer, "chat_template", None):
        return BASE_FEW_SHOT
    return location.prompt_format

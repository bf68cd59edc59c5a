"""A KV cache allocated once per batch, at the batch's final size, and compacted in place.

transformers' default cache grows every layer's keys and values by concatenation at every decoding step: each step
copies the whole cache into a new tensor and frees the old one, and those blocks end up interleaved in the C
allocator with the short-lived tensors of the forward passes, which keeps freed memory resident. Here one block, sized for the longest row the batch can reach, holds every layer's keys and values; a step writes
its new positions into that block, and a row that finishes is dropped by copying the rows after it down.
Untouched parts of the block cost no resident memory until they are written.

The forward passes over the prompts leave freed temporaries in the C allocator's free lists, where they stay
resident while the cache grows during decoding; :func:`release_freed_memory` hands them back to the system.

:func:`cache_argument` and :func:`cache_of` name the cache the way the installed transformers does when a forward
pass takes one and returns one.

Imported only by the transformers backend (it needs torch).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import inspect
from collections.abc import Callable
from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer


class SlabLayer(DynamicLayer):
    """One decoder layer's keys and values: views into its part of the batch's block.

    ``slab`` has shape ``(2, rows, kv_heads, capacity, head_dim)``: keys then values for up to ``rows`` rows.
    """

    def __init__(self, slab: torch.Tensor):
        super().__init__()
        self.slab = slab
        self.device = slab.device
        self.rows = 0  # rows in use (set by the first update)
        self.length = 0  # positions written per row
        self.is_initialized = True

    @property
    def capacity(self) -> int:
        return self.slab.shape[3]

    def _refresh(self) -> None:
        self.keys = self.slab[0, : self.rows, :, : self.length]
        self.values = self.slab[1, : self.rows, :, : self.length]

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        """Nothing to do: the block exists from the start."""

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new positions after the ones held and return every position held, per row."""
        rows, new = key_states.shape[0], key_states.shape[-2]
        if self.length == 0:
            if rows > self.slab.shape[1]:
                raise ValueError(f"a batch of {rows} rows does not fit a cache made for {self.slab.shape[1]}")
            self.rows = rows
        elif rows != self.rows:
            raise ValueError(f"the cache holds {self.rows} rows but the step brought {rows}")
        end = self.length + new
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} positions per row; the step needs {end}")
        self.slab[0, :rows, :, self.length : end] = key_states
        self.slab[1, :rows, :, self.length : end] = value_states
        self.length = end
        self._refresh()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def get_max_length(self) -> int:
        return self.capacity

    def reset(self) -> None:
        self.rows = self.length = 0
        self._refresh()

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes the negative number of positions to remove")
        self.length = max(0, self.length + tokens_to_remove)
        self._refresh()

    def batch_repeat_interleave(self, repeats: int) -> None:
        """Copy the one row held (a shared prompt prefix) to ``repeats`` rows."""
        if self.rows != 1:
            raise ValueError("only a one-row cache can be repeated in place")
        if repeats > self.slab.shape[1]:
            raise ValueError(f"{repeats} rows do not fit a cache made for {self.slab.shape[1]}")
        held = self.slab[:, :1, :, : self.length]
        self.slab[:, 1:repeats, :, : self.length] = held
        self.rows = repeats
        self._refresh()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep the rows ``indices`` (in increasing order), moved down to the front of the block."""
        keep = [int(i) for i in indices]
        if any(b <= a for a, b in zip(keep, keep[1:], strict=False)) or (keep and keep[-1] >= self.rows):
            raise ValueError(f"rows to keep must increase and lie below {self.rows}: {keep}")
        for new, old in enumerate(keep):
            if new != old:  # old > new, and rows still to move lie above old: nothing is overwritten early
                self.slab[:, new, :, : self.length] = self.slab[:, old, :, : self.length]
        self.rows = len(keep)
        self._refresh()


def cache_of(output: Any) -> Any:
    """The KV cache a forward pass returned (``cache`` in recent transformers, ``past_key_values`` before)."""
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def cache_argument(model: Any) -> str:
    """The name ``forward`` takes a KV cache under: ``cache`` in recent transformers, ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def layer_shapes(config: Any) -> tuple[int, int, int] | None:
    """(layers, kv heads, head dim) when every layer of the model is plain full attention, else None."""
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    layer_types = getattr(config, "layer_types", None)
    if layer_types is not None and any(t != "full_attention" for t in layer_types):
        return None
    if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", True):
        return None
    try:
        layers = int(config.num_hidden_layers)
        heads = int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads)
        head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)
    except (AttributeError, TypeError):
        return None
    return layers, heads, head_dim


def slab_cache(model: Any, rows: int, capacity: int) -> Cache | None:
    """A cache for ``rows`` rows of up to ``capacity`` positions in one block, or None if the model needs another
    (layers other than full attention, or layers spread over several devices).

    The block is allocated empty: memory becomes resident as positions are written, never more than the batch's
    cache at its longest.
    """
    shapes = layer_shapes(model.config)
    devices = set((getattr(model, "hf_device_map", None) or {}).values())
    if shapes is None or len(devices) > 1:
        return None
    layers, heads, head_dim = shapes
    block = torch.empty((layers, 2, rows, heads, capacity, head_dim), dtype=model.dtype, device=model.device)
    return Cache(layers=[SlabLayer(block[i]) for i in range(layers)])


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, Windows, musl)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return memory the C allocator holds but no tensor uses to the system; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True

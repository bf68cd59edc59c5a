"""The one-block KV cache against transformers' own cache, on a tiny randomly initialised Llama (no real model).

torch is imported inside the fixtures, so collecting this file imports nothing heavy.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agora.backends.base import ChatMessage, GenerationRequest


@pytest.fixture(scope="module")
def tiny():
    """A 2-layer Llama with grouped key/value heads and spread-out logits (so greedy choices are clear)."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        initializer_range=0.5,
        pad_token_id=0,
        eos_token_id=96,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors this small only lose time to thread hand-offs
    yield SimpleNamespace(torch=torch, model=model)
    torch.set_num_threads(threads)


def left_padded(torch, rows):
    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row)
        mask[i, width - len(row) :] = 1
    return ids, mask


def run_steps(tiny, cache, prefill_step: int):
    """Prompts of three rows, prefilled in slices of ``prefill_step`` columns, then four greedy steps; row 1
    leaves after the second step. Returns every step's last-position logits."""
    from agora.backends.transformers.kv_cache import cache_argument, cache_of

    torch, model = tiny.torch, tiny.model
    ids, mask = left_padded(torch, [[5, 9, 14, 3, 22, 7], [8, 1], [30, 31, 32, 33]])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    arg = cache_argument(model)
    seen = []
    with torch.inference_mode():
        for begin in range(0, ids.shape[1], prefill_step):
            end = min(ids.shape[1], begin + prefill_step)
            out = model(
                input_ids=ids[:, begin:end],
                attention_mask=mask[:, :end],
                position_ids=positions[:, begin:end],
                use_cache=True,
                **({arg: cache} if cache is not None else {}),
            )
            cache = cache_of(out)
        next_position = positions[:, -1] + 1
        for step in range(4):
            logits = out.logits[:, -1, :]
            seen.append(logits.clone())
            chosen = logits.argmax(-1)
            if step == 1:
                keep = torch.tensor([0, 2])
                cache.batch_select_indices(keep)
                mask, next_position, chosen = mask[keep], next_position[keep], chosen[keep]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
            out = model(
                input_ids=chosen[:, None],
                attention_mask=mask,
                position_ids=next_position[:, None],
                use_cache=True,
                **{arg: cache},
            )
            next_position = next_position + 1
    return seen


def test_one_block_cache_gives_the_logits_of_the_growing_cache(tiny):
    from agora.backends.transformers.kv_cache import slab_cache

    torch = tiny.torch
    expected = run_steps(tiny, None, prefill_step=100)  # transformers' own cache, prompt in one pass
    for step in (100, 2):  # the prompt in one pass, and in slices of two columns
        cache = slab_cache(tiny.model, 3, 6 + 4)
        got = run_steps(tiny, cache, prefill_step=step)
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        assert cache.layers[0].rows == 2 and cache.get_seq_length() == 6 + 4  # filled to the last position


def test_one_block_cache_repeats_a_shared_prefix_and_refuses_overflow(tiny):
    from agora.backends.transformers.kv_cache import cache_argument, slab_cache

    torch, model = tiny.torch, tiny.model
    cache = slab_cache(model, 3, 5)
    arg = cache_argument(model)
    with torch.inference_mode():
        model(input_ids=torch.tensor([[4, 5, 6]]), use_cache=True, **{arg: cache})
        layer = cache.layers[1]
        before = layer.keys[0].clone()
        cache.batch_repeat_interleave(3)
        assert layer.keys.shape[0] == 3
        for row in range(3):
            torch.testing.assert_close(layer.keys[row], before, atol=0, rtol=0)
        with pytest.raises(ValueError, match="holds 5 positions per row; the step needs 6"):
            model(input_ids=torch.tensor([[1, 2, 3]] * 3), use_cache=True, **{arg: cache})
        with pytest.raises(ValueError, match="must increase"):
            cache.batch_select_indices(torch.tensor([2, 0]))


def test_models_with_sliding_window_layers_or_split_over_devices_keep_their_own_cache(tiny):
    from agora.backends.transformers.kv_cache import slab_cache

    config = tiny.model.config.__class__(**tiny.model.config.to_dict())
    config.layer_types = ["full_attention", "sliding_attention"]
    sliding = SimpleNamespace(config=config, dtype=tiny.torch.float32, device="cpu")
    assert slab_cache(sliding, 2, 8) is None
    split = SimpleNamespace(
        config=tiny.model.config, dtype=tiny.torch.float32, device="cpu", hf_device_map={"a": 0, "b": 1}
    )
    assert slab_cache(split, 2, 8) is None
    assert slab_cache(tiny.model, 2, 8) is not None


def decode(tiny, requests, monkeypatch, tokens_per_pass):
    """The backend's decoding loop on the tiny model; returns each request's greedy tokens."""
    from agora.backends.transformers import generate
    from agora.backends.transformers.inputs import batch_inputs, shared_prefix

    monkeypatch.setattr(generate, "PREFILL_TOKENS_PER_PASS", tokens_per_pass)
    prompts = [r[0] for r in requests]
    shared = shared_prefix(prompts)
    ids, mask = batch_inputs(prompts, shared, 0, "cpu")
    rows = [
        generate.Row(GenerationRequest(messages=(ChatMessage("user", "x"),), max_new_tokens=budget), set())
        for _, budget in requests
    ]
    generate.decode(SimpleNamespace(model=tiny.model, tokenizer=None), ids, mask, shared, rows)
    return [row.tokens for row in rows], shared


@pytest.mark.parametrize("tokens_per_pass", [512, 6])
def test_decoding_a_batch_gives_each_row_its_solo_tokens(tiny, monkeypatch, tokens_per_pass):
    preamble = list(range(10, 30))  # 20 tokens every prompt begins with: the shared-prefix layout
    batches = {
        "plain": [([3, 4, 5, 6, 7], 9), ([50, 51], 3), ([60, 61, 62, 63, 64, 65, 66], 6)],
        "shared": [(preamble + [3, 4], 9), (preamble + [50], 2), (preamble + [60, 61, 62], 6)],
    }
    for name, requests in batches.items():
        together, shared = decode(tiny, requests, monkeypatch, tokens_per_pass)
        assert (shared > 0) == (name == "shared")
        for request, tokens in zip(requests, together, strict=True):
            (alone,), _ = decode(tiny, [request], monkeypatch, tokens_per_pass)
            assert tokens == alone
            assert len(tokens) == request[1]  # no stop token in reach: every row runs to its own budget


def test_release_freed_memory_reports_whether_it_could():
    pytest.importorskip("torch")
    import sys

    from agora.backends.transformers.kv_cache import release_freed_memory

    result = release_freed_memory()
    assert isinstance(result, bool)
    if sys.platform == "linux" and "glibc" in __import__("platform").libc_ver()[0]:
        assert result

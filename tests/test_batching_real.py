"""Batching on the real model: a batched greedy answer is token for token the answer the request gets alone.

Covers both batch layouts: prompts that differ from the start (plain left padding) and prompts that share a long
beginning (the shared prefix runs once and its cache is copied to every row).
"""

from __future__ import annotations

import pytest

from agora.backends.base import ChatMessage, GenerationRequest

pytestmark = pytest.mark.slow

PROMPTS = [
    ("You value public health above all.", "Should cities ban cars from their centres?"),
    ("You value economic growth above all.", "Should the working week be four days?"),
    ("You value tradition above all.", "Is it wrong to break a promise to a friend?"),
    ("You value scientific rigour.", "Name one planet of the solar system."),
]


@pytest.fixture(scope="module")
def backend():
    from agora.backends.transformers.backend import TransformersBackend

    return TransformersBackend("smollm2-135m-instruct")


def request(system: str, user: str, tokens: int, **extra) -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage("system", system), ChatMessage("user", user)), max_new_tokens=tokens, **extra
    )


PREAMBLE = (
    "You are one voice in a debate between agents who hold different values. Argue from your own values. "
    "Question: Should the town turn its old rail yard into a park, housing or a factory?\n\n"
)
VOICES = [
    "You are a doctor who cares about health.",
    "You run a small business and care about jobs and growth above everything else.",
    "You care about nature.",
    "You are a tenant organiser who fights for cheap housing.",
]


def test_batched_equals_solo_and_budgets_do_not_interfere(backend):
    # different prompt lengths (left padding) and different budgets in one batch
    requests = [request(s, u, 48 if i == 0 else 16) for i, (s, u) in enumerate(PROMPTS)]
    batched = backend.generate_sync(requests)
    assert all(g.batch_size == len(requests) for g in batched)
    for req, together in zip(requests, batched, strict=True):
        (alone,) = backend.generate_sync([req])
        assert together.text == alone.text
        assert together.completion_tokens == alone.completion_tokens <= req.max_new_tokens
    assert batched[0].completion_tokens > 16  # the long request really ran longer than the others


async def test_concurrent_requests_share_one_batch(backend):
    import asyncio

    requests = [request(s, u, 8) for s, u in PROMPTS]
    results = await asyncio.gather(*(backend.generate(r) for r in requests))
    assert [g.batch_size for g in results] == [len(requests)] * len(requests)


def test_seeded_sampling_is_reproducible_and_independent_of_the_batch(backend):
    sampled = GenerationRequest(
        messages=(ChatMessage("user", "Write a short sentence about rivers."),),
        max_new_tokens=20,
        temperature=0.9,
        seed=11,
    )
    (alone,) = backend.generate_sync([sampled])
    (again,) = backend.generate_sync([sampled])
    assert alone.text == again.text
    together = backend.generate_sync([sampled, request(*PROMPTS[0], 20)])[0]
    assert together.text == alone.text


def test_shared_prefix_batch_equals_solo_with_mixed_budgets_and_sampling(backend):
    requests = [
        request(PREAMBLE + voice, "Give your answer in one sentence.", 40 if i == 1 else 12)
        for i, voice in enumerate(VOICES)
    ]
    requests.append(request(PREAMBLE + VOICES[0], "Say it differently.", 16, temperature=0.8, seed=5))
    batched = backend.generate_sync(requests)
    shared = batched[0].extra.get("shared_prefix_tokens", 0)
    assert shared >= 16, "the common preamble should have been processed once for the batch"
    for req, together in zip(requests, batched, strict=True):
        (alone,) = backend.generate_sync([req])
        assert "shared_prefix_tokens" not in alone.extra  # a batch of one has nothing to share
        assert together.text == alone.text
        assert together.completion_tokens == alone.completion_tokens <= req.max_new_tokens
    assert batched[1].completion_tokens > 12  # the long request ran on after the short ones left the batch


def test_pool_reports_the_memory_its_one_model_holds(backend):
    from agora.backends.transformers.pool import DEFAULT_POOL

    other = type(backend)("smollm2-135m-instruct")  # a second persona naming the same model
    assert other.load() is backend.load()
    report = DEFAULT_POOL.report()
    assert [r["model"] for r in report].count("smollm2-135m-instruct") == 1
    (entry,) = [r for r in report if r["model"] == "smollm2-135m-instruct"]
    assert 400 < entry["memory_mb"] < 700  # 135M float32 parameters
    assert backend.describe()["memory_mb"] == entry["memory_mb"]

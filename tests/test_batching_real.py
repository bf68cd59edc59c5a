"""Batching on the real model: a batched greedy answer is token for token the answer the request gets alone."""

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
    from agora.backends.transformers_backend import TransformersBackend

    return TransformersBackend("smollm2-135m-instruct")


def request(system: str, user: str, tokens: int) -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage("system", system), ChatMessage("user", user)), max_new_tokens=tokens
    )


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

"""Scoring on the real model: log-likelihoods of continuations, batched, with each prompt processed once."""

from __future__ import annotations

import asyncio
import math

import pytest

from agora.backends.base import ChatMessage, ScoreRequest

pytestmark = pytest.mark.slow

REQUESTS = [
    ScoreRequest(
        (ChatMessage("system", "You value public health."), ChatMessage("user", "Should cities ban cars?")),
        ("Yes", "No", "Yes, because cleaner air saves lives.", "No, because people need cars to reach work."),
        agent="hygieia",
    ),
    ScoreRequest(
        (ChatMessage("user", "What is the capital of France?"),),
        ("The capital of France is Paris.", "The capital of France is a banana."),
        agent="empirica",
    ),
]


@pytest.fixture(scope="module")
def backend():
    from agora.backends.transformers.backend import TransformersBackend

    return TransformersBackend("smollm2-135m-instruct")


def full_sequence_logprob(backend, request: ScoreRequest, continuation: str) -> float:
    """The reference: prompt and continuation as one unpadded sequence, one forward pass, no cache."""
    import torch

    from agora.backends.transformers.inputs import render_chat

    lm = backend.load()
    prompt = lm.tokenizer(render_chat(lm.tokenizer, request), add_special_tokens=False)["input_ids"]
    tokens = lm.tokenizer(continuation, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = lm.model(input_ids=torch.tensor([prompt + tokens])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[len(prompt) - 1 + k, t]) for k, t in enumerate(tokens))


def test_batched_scores_equal_solo_and_the_unbatched_reference(backend):
    batched = backend.score_sync(REQUESTS)
    for request, scores in zip(REQUESTS, batched, strict=True):
        assert scores.batch_size == len(REQUESTS)
        assert len(scores.logprobs) == len(scores.tokens) == len(request.continuations)
        (alone,) = backend.score_sync([request])
        for j, continuation in enumerate(request.continuations):
            reference = full_sequence_logprob(backend, request, continuation)
            assert scores.logprobs[j] == pytest.approx(reference, abs=1e-3)
            assert alone.logprobs[j] == pytest.approx(reference, abs=1e-3)
            assert scores.logprobs[j] < 0 and math.isfinite(scores.logprobs[j])


def test_scores_tell_a_true_statement_from_a_false_one(backend):
    (scores,) = backend.score_sync([REQUESTS[1]])
    paris, banana = scores.mean_logprobs
    assert paris > banana


def test_small_passes_give_the_same_scores(backend, monkeypatch):
    import agora.backends.transformers.score as score

    expected = backend.score_sync(REQUESTS)
    monkeypatch.setattr(score, "SCORE_TOKENS_PER_PASS", 5)  # continuations spread over many passes
    for got, want in zip(backend.score_sync(REQUESTS), expected, strict=True):
        assert got.logprobs == pytest.approx(want.logprobs, abs=1e-4)


def test_concurrent_score_calls_share_one_batch_and_a_bad_one_fails_alone(backend):
    bad = ScoreRequest(REQUESTS[0].messages, ("Yes", "  "), agent="broken")

    async def run():
        return await asyncio.gather(*(backend.score(r) for r in [*REQUESTS, bad]), return_exceptions=True)

    *good, error = asyncio.run(run())
    assert [s.batch_size for s in good] == [len(REQUESTS)] * len(REQUESTS)
    assert isinstance(error, ValueError) and "broken" in str(error)

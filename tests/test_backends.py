"""The backend contract without a model: scoring through the scripted backend, and backends that cannot score."""

from __future__ import annotations

import pytest

from agora import ScriptedBackend
from agora.backends import Backend, ChatMessage, Generation, ScoreRequest, Scores, ScoringUnsupported

REQUEST = ScoreRequest((ChatMessage("user", "Which is best?"),), ("first answer", "second"), agent="alpha")


async def test_scripted_scorer_returns_one_score_per_continuation_in_order():
    backend = ScriptedBackend(scorer=lambda req: [-float(len(c)) for c in req.continuations])
    scores = await backend.score(REQUEST)
    assert scores.logprobs == (-12.0, -6.0)
    assert scores.tokens == (2, 1)
    assert scores.mean_logprobs == (-6.0, -6.0)
    assert backend.score_requests == [REQUEST]
    assert await backend.score_many([REQUEST, REQUEST]) == [scores, scores]


async def test_a_scorer_returning_the_wrong_number_of_scores_is_an_error_naming_the_counts():
    backend = ScriptedBackend(scorer=lambda req: [0.0])
    with pytest.raises(ValueError, match="1 scores for 2 continuations"):
        await backend.score(REQUEST)


async def test_backends_without_scoring_say_so():
    class TextOnly(Backend):
        name = "text-only"

        async def generate(self, request):
            return Generation("ok")

    for backend in (TextOnly(), ScriptedBackend(["x"])):
        with pytest.raises(ScoringUnsupported, match=backend.name):
            await backend.score(REQUEST)
    assert issubclass(ScoringUnsupported, NotImplementedError)


def test_mean_logprobs_guard_against_zero_tokens():
    assert Scores(logprobs=(-1.0,), tokens=(0,)).mean_logprobs == (-1.0,)

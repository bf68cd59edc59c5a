"""How relevant each stated value is to the question, and the voting weights that follow from it.

Value-weighted aggregation gives more say to the agents whose stated values the question puts at stake: on a
question about vaccine funding, the agent that speaks for public health counts for more than the one that speaks
for tradition. The relevance is measured with a language model, not with keywords (a question about banning cars
shares no word with "sustainability").

Relevance of value ``v`` to question ``q`` (calibrated pointwise mutual information):

1. ``pmi(v, q) = log P(q | "Ask a question about v.") - log P(q | "Ask a question.")``, the log-likelihood the judge
   model gives the question as its reply, with and without the value named in the request;
2. the same for a fixed set of neutral reference questions (:data:`REFERENCE_QUESTIONS`), averaged per value:
   ``bias(v)``. Some values make any "should" question likelier; subtracting ``bias(v)`` removes that, in the way
   contextual calibration removes a model's prior towards some labels;
3. ``relevance(v, q) = softmax over the debate's values of pmi(v, q) - bias(v)``: by Bayes' rule with a uniform
   prior over the stated values, the probability that the question was asked about ``v``.

An agent's share is ``r_i = sum_v w_iv * relevance(v, q)`` over its normalised stated weights ``w_iv``, and its
voting weight is ``floor + (1 - floor) * r_i / max_j r_j``: the agent whose values are most at stake weighs 1, and
nobody drops below ``floor`` (default 0.1), so no one loses their voice entirely. The weight multiplies the
persona's own ``weight`` when the protocol is also ``weighted``. Ordinal rules count a weighted ballot as that many
voters; cardinal rules multiply its utilities.

The judge is one model for every agent (the model most of the debate's personas use), so no agent can raise its
own weight by its model's self-assessment. The measure is only as good as the judge: a 135M-parameter model
separates clear cases (vaccine research: public health 0.95) better than subtle ones, which is why every value's
relevance and every agent's weight is written into the outcome for inspection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agora.backends.base import Backend, ChatMessage, ScoreRequest

#: Neutral questions whose mean PMI with a value is that value's bias (step 2 above).
REFERENCE_QUESTIONS: tuple[str, ...] = (
    "What should we do about this?",
    "Should this rule be changed?",
    "Is this a good idea?",
    "What is the best choice here?",
    "Should people be allowed to do this?",
    "How should we decide?",
)
DEFAULT_FLOOR = 0.1


def value_label(value: str) -> str:
    """``public_health`` -> ``public health``."""
    return value.replace("_", " ")


def relevance_requests(question: str, values: Sequence[str]) -> list[ScoreRequest]:
    """The scoring requests: the plain request first, then one per value; each scores the question followed by the
    reference questions as the model's reply."""
    continuations = (question, *REFERENCE_QUESTIONS)
    asks = ["Ask a question."] + [f"Ask a question about {value_label(v)}." for v in values]
    return [
        ScoreRequest((ChatMessage("user", ask),), continuations, agent="relevance", phase="relevance")
        for ask in asks
    ]


@dataclass(frozen=True)
class Relevance:
    """Each value's relevance to the question (sums to 1) and the calibrated PMI it came from."""

    relevance: dict[str, float]
    calibrated_pmi: dict[str, float]


def relevance_from_logprobs(values: Sequence[str], logprobs: Sequence[Sequence[float]]) -> Relevance:
    """Steps 1-3 from the summed log-probabilities: ``logprobs[0]`` is the plain request's row and
    ``logprobs[1 + i]`` value ``i``'s; in each row entry 0 is the question and the rest the reference questions."""
    if len(logprobs) != len(values) + 1:
        raise ValueError(f"expected {len(values) + 1} rows of log-probabilities, got {len(logprobs)}")
    base = logprobs[0]
    calibrated = {}
    for value, row in zip(values, logprobs[1:], strict=True):
        pmi = [lp - b for lp, b in zip(row, base, strict=True)]
        bias = sum(pmi[1:]) / len(pmi[1:]) if len(pmi) > 1 else 0.0
        calibrated[value] = pmi[0] - bias
    top = max(calibrated.values())
    exp = {v: math.exp(c - top) for v, c in calibrated.items()}
    total = sum(exp.values())
    return Relevance(
        relevance={v: e / total for v, e in exp.items()},
        calibrated_pmi=calibrated,
    )


async def measure_relevance(judge: Backend, question: str, values: Sequence[str]) -> Relevance:
    """Score the question against each value with the judge model (one batched scoring call)."""
    values = sorted(set(values))
    scores = await judge.score_many(relevance_requests(question, values))
    return relevance_from_logprobs(values, [s.logprobs for s in scores])


def agent_weights(
    stated: Mapping[str, Mapping[str, float]], relevance: Mapping[str, float], floor: float = DEFAULT_FLOOR
) -> dict[str, float]:
    """Voting weights from each agent's normalised stated values (agent -> value -> weight summing to 1) and the
    values' relevance: ``floor + (1 - floor) * r_i / max_j r_j`` with ``r_i = sum_v w_iv * relevance(v)``."""
    if not 0.0 <= floor <= 1.0:
        raise ValueError(f"floor must lie in [0, 1], got {floor}")
    shares = {a: sum(w * relevance.get(v, 0.0) for v, w in vals.items()) for a, vals in stated.items()}
    top = max(shares.values(), default=0.0)
    if top <= 0.0:
        return {a: 1.0 for a in shares}
    return {a: floor + (1.0 - floor) * s / top for a, s in shares.items()}

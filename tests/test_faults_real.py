"""Agent faults with the real embedded model: one agent's calls raise or hang, the debate goes on above quorum and
fails clearly below it; and the model's worker drops a request whose caller gave up. Marked slow; CI runs them."""

from __future__ import annotations

import asyncio
import time

import pytest

from agora import Debate, DebateError, Transcript, load_personas, load_protocol
from agora.backends import Fault, FaultyBackend
from agora.backends.base import ChatMessage, GenerationRequest
from agora.transcript import PhaseEvent

pytestmark = pytest.mark.slow

AGENTS = ["verdant", "enterprise", "libertas"]
QUESTION = "Should cities ban cars from their centres?"
TOKENS = {"propose": 24, "critique": 16, "revise": 24, "vote": 8}


@pytest.fixture(scope="module")
def model():
    from agora.backends.transformers.backend import TransformersBackend

    backend = TransformersBackend("smollm2-135m-instruct")
    backend.load()
    return backend


@pytest.fixture(scope="module")
def personas():
    return [p for p in load_personas() if p.name in AGENTS]


def short_protocol(timeout_s: float):
    """One round of the shipped debate with short replies; ``timeout_s`` leaves room for a loaded machine."""
    protocol = load_protocol("debate").with_overrides(rounds=1, timeout_s=timeout_s)
    phases = [p.model_copy(update={"max_new_tokens": TOKENS[p.name]}) for p in protocol.spec.phases]
    return protocol.with_overrides(phases=phases)


def test_raise_and_hang_above_quorum_the_debate_completes(model, personas, tmp_path):
    faults = {
        "enterprise": Fault("raise", frozenset({"critique"})),
        "libertas": Fault("hang", frozenset({"vote"})),
    }
    backend = FaultyBackend(model, faults)
    out = tmp_path / "above.jsonl"
    start = time.perf_counter()
    result = Debate(personas, short_protocol(timeout_s=45), seed=1, backend=backend).run_sync(
        QUESTION, out=out
    )
    elapsed = time.perf_counter() - start
    t = Transcript.load(out)
    assert t.status == "completed" and result.outcome.answer
    (raised,) = [m for m in t.phase_messages(1, "critique") if m.agent == "enterprise"]
    assert raised.error == "InjectedFault: injected fault for agent 'enterprise'"
    (hung,) = [b for b in t.ballots if b.agent == "libertas"]
    assert hung.error == "timed out after 45 s" and hung.ranking == []
    assert result.outcome.voters == 2
    # the healthy agents answered with the real model in every phase
    for m in t.messages:
        if m.agent == "verdant":
            assert m.ok and m.text and m.completion_tokens > 0
    assert elapsed >= 45  # the hung voter was waited for, up to the protocol's timeout and no longer


def test_raise_and_hang_below_quorum_the_debate_fails_clearly(model, personas, tmp_path):
    faults = {
        "enterprise": Fault("raise", frozenset({"propose"})),
        "libertas": Fault("hang", frozenset({"propose"})),
    }
    out = tmp_path / "below.jsonl"
    debate = Debate(personas, short_protocol(timeout_s=20), seed=1, backend=FaultyBackend(model, faults))
    with pytest.raises(DebateError) as info:
        debate.run_sync(QUESTION, out=out)
    message = str(info.value)
    assert message.startswith("round 1, phase 'propose': only 1 of 3 agents answered")
    assert "enterprise (InjectedFault: injected fault for agent 'enterprise')" in message
    assert "libertas (timed out after 20 s)" in message
    t = Transcript.load(out)
    assert t.status == "failed" and t.end.error == message
    (verdant,) = [m for m in t.phase_messages(1, "propose") if m.agent == "verdant"]
    assert verdant.ok and verdant.text
    phase = next(e for e in t.events if isinstance(e, PhaseEvent))
    assert phase.answered == ["verdant"] and sorted(phase.failed) == ["enterprise", "libertas"]


def request(agent: str, tokens: int, temperature: float = 0.0) -> GenerationRequest:
    return GenerationRequest(
        messages=(
            ChatMessage("system", "You are a storyteller."),
            ChatMessage("user", "Tell a very long story."),
        ),
        max_new_tokens=tokens,
        temperature=temperature,
        seed=7,
        agent=agent,
    )


async def test_the_worker_drops_a_runaway_request_and_delivers_the_others_early(model):
    # a runaway: sampling at a high temperature rarely ends, and 4000 tokens would take minutes here
    runaway = asyncio.ensure_future(asyncio.wait_for(model.generate(request("runaway", 4000, 1.5)), 6))
    start = time.perf_counter()
    short = await asyncio.wait_for(model.generate(request("short", 8)), 60)
    # it shared the runaway's batch, yet came back as soon as its own row finished
    assert short.completion_tokens == 8 and short.batch_size == 2
    assert not runaway.done()
    with pytest.raises(asyncio.TimeoutError):
        await runaway
    # the worker dropped the runaway at its next step: a new request is served at once, not after 4000 tokens
    after = time.perf_counter()
    follow = await asyncio.wait_for(model.generate(request("follow", 8)), 60)
    assert follow.batch_size == 1 and follow.completion_tokens == 8
    assert time.perf_counter() - after < 30
    assert time.perf_counter() - start < 60

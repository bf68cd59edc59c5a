"""A real OpenAI-compatible server: llama-cpp-python's, on loopback, serving the embedded SmolLM2 GGUF.

Some agents talk to the server, the others run on the local transformers backend, in one debate; then the server
is killed in the middle of a debate, and its agents' turns fail with recorded errors while the others finish.
Marked slow; CI installs llama-cpp-python (the `server` extra) so these run there.
"""

from __future__ import annotations

import asyncio

import pytest
from llama_server import LlamaServer, ServerFailed, llama_cpp_command

from agora import Debate, Persona, load_personas
from agora.backends import ChatMessage, ScoreRequest
from agora.backends.catalog import locate
from agora.backends.openai_backend import OpenAIBackend
from agora.protocol.loader import load_protocol

pytestmark = pytest.mark.slow
pytest.importorskip(
    "llama_cpp.server.app", reason="llama-cpp-python[server] is not installed: pip install 'agora[server]'"
)

QUESTION = "Should cities ban cars from their centres?"
LOCAL = ["verdant", "hygieia"]
REMOTE = ["enterprise", "libertas"]


@pytest.fixture
def server(tmp_path):
    """The SmolLM2 GGUF served as 'smollm2'; a server that cannot start or answer fails the test in one line."""
    gguf = locate("smollm2-135m-instruct").file
    s = LlamaServer(tmp_path / "llama-server.log", llama_cpp_command(gguf, "smollm2"))
    try:
        s.start()
    except ServerFailed as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield s
    finally:
        s.stop()


def short_protocol():
    """The shipped debate, one round, short turns: enough to show every phase without a long CI run."""
    proto = load_protocol("debate")
    phases = [dict(p.model_dump(), max_new_tokens=min(p.max_new_tokens or 48, 40)) for p in proto.spec.phases]
    return proto.with_overrides(rounds=1, phases=phases)


def mixed_personas(url: str) -> list[Persona]:
    """Two shipped cards on the local backend, two pointed at the server (max_retries kept low for the kill test)."""
    personas = []
    for p in load_personas():
        if p.name in LOCAL:
            personas.append(p)
        elif p.name in REMOTE:
            endpoint = {"max_retries": 1, "timeout_s": 120, "max_concurrency": 2}
            personas.append(Persona(**{**p.model_dump(), "model": f"smollm2@{url}", "endpoint": endpoint}))
    assert len(personas) == 4
    return personas


def test_a_debate_mixes_server_agents_and_local_agents(server, tmp_path):
    personas = mixed_personas(server.url)
    remote_model = f"smollm2@{server.url}"
    result = Debate(personas, short_protocol(), seed=0).run_sync(QUESTION, out=tmp_path / "mixed.jsonl")
    t = result.transcript
    assert t.status == "completed" and t.outcome is not None
    assert all(m.ok and m.text for m in t.messages), [m.error for m in t.messages]
    by_agent = {m.agent: m.model for m in t.messages}
    assert {by_agent[a] for a in REMOTE} == {remote_model}
    assert {by_agent[a] for a in LOCAL} == {"smollm2-135m-instruct"}
    # the server's own token counts are recorded with each message it wrote
    assert all(m.prompt_tokens > 50 and m.completion_tokens > 0 for m in t.messages if m.agent in REMOTE)
    assert t.header.models[remote_model]["backend"] == "openai"
    assert t.header.models["smollm2-135m-instruct"]["backend"] == "transformers"
    assert len(t.ballots) == 4 and all(b.ranking for b in t.ballots)


def test_killing_the_server_mid_debate_fails_its_agents_and_the_debate_finishes(server, tmp_path):
    personas = mixed_personas(server.url)

    def progress(p):
        if p.stage == "phase-done" and p.phase == "propose":
            server.stop()  # the server dies between the proposals and the critiques

    debate = Debate(personas, short_protocol(), seed=0, progress=progress)
    result = debate.run_sync(QUESTION, out=tmp_path / "killed.jsonl")
    t = result.transcript
    assert t.status == "completed" and t.outcome is not None
    proposals = [m for m in t.messages if m.phase == "propose"]
    assert all(m.ok for m in proposals)  # before the kill every agent answered
    later = [m for m in t.messages if m.phase != "propose"]
    for m in later:
        if m.agent in REMOTE:
            assert m.error and "EndpointError" in m.error and "failed after 2 attempts" in m.error, m.error
        else:
            assert m.ok, m.error
    failed_ballots = [b for b in t.ballots if b.agent in REMOTE]
    assert failed_ballots and all(b.parse == "error" and "EndpointError" in b.error for b in failed_ballots)
    assert t.outcome.voters == len(LOCAL)
    phase_events = [e for e in t.events if e.type == "phase" and e.phase != "propose"]
    assert all(sorted(e.failed) == sorted(REMOTE) for e in phase_events)


def test_the_server_scores_continuations_through_completion_logprobs(server):
    backend = OpenAIBackend(server.url, "smollm2", completion_template="chatml")
    request = ScoreRequest(
        (ChatMessage("user", "What is 12 + 7?"),), ("12 + 7 = 19", "12 + 7 = 45", "Bananas are purple")
    )
    scores = asyncio.run(backend.score(request))
    assert len(scores.logprobs) == 3 and all(lp < 0 for lp in scores.logprobs)
    assert scores.tokens[0] == scores.tokens[1] > scores.tokens[2] > 0
    right, wrong, silly = scores.logprobs
    assert right > wrong + 5 and right > silly + 5

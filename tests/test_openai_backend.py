"""The OpenAI-compatible backend against a tiny loopback server: requests, usage, retries, backoff, timeouts,
the per-endpoint concurrency limit, scoring through completion log-probabilities, and a debate over HTTP."""

from __future__ import annotations

import asyncio
import re
import socket
import time

import pytest
from openai_stub import StubServer, chat_reply

from agora import Debate, Persona
from agora.backends import ChatMessage, GenerationRequest, ScoreRequest, ScoringUnsupported, resolve_backend
from agora.backends.openai_backend import EndpointError, OpenAIBackend
from agora.errors import ModelNotFoundError

REQUEST = GenerationRequest(
    (ChatMessage("system", "Be brief."), ChatMessage("user", "Yes or no?")),
    max_new_tokens=12,
    seed=5,
    agent="a",
)


def backend(url: str, **kw) -> OpenAIBackend:
    kw.setdefault("backoff_s", 0.01)
    return OpenAIBackend(url, "stub", **kw)


async def test_chat_completion_sends_the_prompt_and_returns_text_and_usage():
    async with StubServer(lambda path, body: chat_reply(" Yes. Because. ", 11, 4, "length")) as server:
        gen = await backend(server.url).generate(REQUEST)
    assert gen.text == "Yes. Because."
    assert (gen.prompt_tokens, gen.completion_tokens, gen.finish_reason) == (11, 4, "length")
    path, body = server.requests[0]
    assert path == "/chat/completions"
    assert body["model"] == "stub" and body["max_tokens"] == 12 and body["seed"] == 5
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Yes or no?"},
    ]
    assert "stop" not in body


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retryable_statuses_are_retried_with_growing_backoff(status):
    answers = [(status, {"error": "busy"}, {}), (status, {"error": "busy"}, {}), chat_reply("ok")]
    async with StubServer(lambda path, body: answers.pop(0)) as server:
        b = backend(server.url, backoff_s=0.05, max_retries=3)
        start = time.perf_counter()
        gen = await b.generate(REQUEST)
        elapsed = time.perf_counter() - start
    assert gen.text == "ok"
    assert b.attempts == 3 and len(server.requests) == 3
    assert elapsed >= 0.05 + 0.10  # waited backoff_s, then twice that


async def test_retry_after_header_sets_the_wait():
    answers = [(429, {"error": "slow down"}, {"Retry-After": "0.3"}), chat_reply("ok")]
    async with StubServer(lambda path, body: answers.pop(0)) as server:
        start = time.perf_counter()
        await backend(server.url, backoff_s=0.001).generate(REQUEST)
    assert time.perf_counter() - start >= 0.3


async def test_retries_give_up_with_the_last_error():
    async with StubServer(lambda path, body: (502, "bad gateway", {})) as server:
        b = backend(server.url, max_retries=2)
        with pytest.raises(EndpointError, match=r"after 3 attempts: HTTP 502: bad gateway"):
            await b.generate(REQUEST)
    assert len(server.requests) == 3


async def test_client_errors_are_not_retried_and_carry_the_server_message():
    async with StubServer(lambda path, body: (400, {"error": "model 'stub' not found"}, {})) as server:
        with pytest.raises(EndpointError, match="HTTP 400.*model 'stub' not found") as info:
            await backend(server.url).generate(REQUEST)
    assert info.value.status == 400
    assert len(server.requests) == 1


async def test_a_slow_server_times_out_and_is_retried():
    calls = []

    async def slow_then_fast(path, body):
        calls.append(time.perf_counter())
        if len(calls) == 1:
            await asyncio.sleep(2)
        return chat_reply("late but fine")

    async with StubServer(slow_then_fast) as server:
        start = time.perf_counter()
        gen = await backend(server.url, timeout_s=0.2).generate(REQUEST)
    assert gen.text == "late but fine"
    assert len(calls) == 2 and time.perf_counter() - start < 1.5


async def test_timeouts_that_persist_fail_naming_the_timeout():
    async def never(path, body):
        await asyncio.sleep(5)

    async with StubServer(never) as server:
        with pytest.raises(EndpointError, match=r"after 2 attempts: no answer within 0.1 s"):
            await backend(server.url, timeout_s=0.1, max_retries=1).generate(REQUEST)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_connection_refused_is_retried_then_reported():
    b = backend(f"http://127.0.0.1:{_closed_port()}/v1", max_retries=2)
    with pytest.raises(EndpointError, match="after 3 attempts: ConnectError"):
        await b.generate(REQUEST)
    assert b.attempts == 3


async def test_concurrency_is_limited_per_endpoint():
    async def slow(path, body):
        await asyncio.sleep(0.05)
        return chat_reply("ok")

    async with StubServer(slow) as server:
        first, second = backend(server.url, max_concurrency=2), backend(server.url, max_concurrency=2)
        results = await asyncio.gather(*(b.generate(REQUEST) for b in [first, second] * 4))
    assert len(results) == 8 and len(server.requests) == 8
    assert server.max_in_flight == 2


def _echo_logprobs(path, body):
    """Echo the prompt, one token per word or run of spaces (minus its length as log-probability), then one
    generated token, as vLLM and llama.cpp do."""
    prompt = body["prompt"]
    pieces = [(m.start(), m.group()) for m in re.finditer(r"\S+|\s+", prompt)] + [(len(prompt), " x")]
    logprobs = {
        "tokens": [text for _, text in pieces],
        "token_logprobs": [None] + [-float(len(text)) for _, text in pieces[1:]],
        "text_offset": [offset for offset, _ in pieces],
    }
    body = {"choices": [{"text": prompt + " x", "logprobs": logprobs}], "usage": {"completion_tokens": 1}}
    return 200, body, {}


async def test_scoring_reads_the_continuations_log_probabilities():
    request = ScoreRequest((ChatMessage("user", "Pick one"),), ("aa bbb", "c"), agent="a")
    async with StubServer(_echo_logprobs) as server:
        scores = await backend(server.url, completion_template="chatml").score(request)
    assert scores.logprobs == (-(2.0 + 1 + 3), -1.0)  # "aa", " ", "bbb"; then "c"
    assert scores.tokens == (3, 1)
    path, body = server.requests[0]
    assert path == "/completions" and body["echo"] is True and body["logprobs"] == 1
    assert body["prompt"].startswith("<|im_start|>user\nPick one<|im_end|>\n<|im_start|>assistant\n")


async def test_scoring_finds_the_continuation_when_offsets_skip_special_tokens():
    """llama.cpp's server counts special tokens such as <|im_start|> as no text in its offsets."""

    def llama_style(path, body):
        status, data, headers = _echo_logprobs(path, body)
        logprobs = data["choices"][0]["logprobs"]
        shift, shifted = 0, []
        for offset, token in zip(logprobs["text_offset"], logprobs["tokens"], strict=True):
            shifted.append(offset - shift)
            shift += sum(len(t) * token.count(t) for t in ("<|im_start|>", "<|im_end|>"))
        logprobs["text_offset"] = shifted
        return status, data, headers

    request = ScoreRequest((ChatMessage("user", "Pick one"),), ("aa bbb", "c"), agent="a")
    async with StubServer(llama_style) as server:
        scores = await backend(server.url, completion_template="chatml").score(request)
    assert scores.logprobs == (-6.0, -1.0) and scores.tokens == (3, 1)


async def test_scoring_without_a_template_or_without_logprobs_is_unsupported():
    request = ScoreRequest((ChatMessage("user", "Pick one"),), ("yes",), agent="a")
    with pytest.raises(ScoringUnsupported, match="completion_template"):
        await backend("http://127.0.0.1:9/v1").score(request)
    no_logprobs = (200, {"choices": [{"text": "yes"}]}, {})
    async with StubServer(lambda path, body: no_logprobs) as server:
        with pytest.raises(ScoringUnsupported, match="no prompt log-probabilities"):
            await backend(server.url, completion_template="chatml").score(request)
    async with StubServer(lambda path, body: (404, "no such route", {})) as server:
        with pytest.raises(ScoringUnsupported, match="HTTP 404"):
            await backend(server.url, completion_template="plain").score(request)


def test_cards_name_endpoints_and_tune_them():
    p = Persona(
        name="remote",
        values={"fairness": 1},
        description="d",
        model="smollm2@http://127.0.0.1:8080/v1/",
        endpoint={"max_concurrency": 3, "timeout_s": 9, "max_retries": 1, "completion_template": "chatml"},
    )
    b = resolve_backend(p)
    assert isinstance(b, OpenAIBackend)
    assert (b.base_url, b.model, b.max_concurrency, b.timeout_s, b.max_retries) == (
        "http://127.0.0.1:8080/v1",
        "smollm2",
        3,
        9,
        1,
    )
    assert b.describe()["endpoint"] == "http://127.0.0.1:8080/v1"


def test_an_endpoint_block_without_an_endpoint_model_is_refused():
    p = Persona(
        name="local", values={"fairness": 1}, description="d", model="smollm2-135m-instruct", endpoint={}
    )
    with pytest.raises(ModelNotFoundError) as info:
        resolve_backend(p)
    assert info.value.field == "endpoint"


async def test_a_debate_over_http_records_usage_and_which_model_spoke(tmp_path):
    def reply(path, body):
        user = body["messages"][-1]["content"]
        if "Ranking" in user or "rank" in user.lower():
            return chat_reply("Ranking: A, B, C", 50, 5)
        return chat_reply("Answer: yes. Because it helps.", 40, 6)

    async with StubServer(reply) as server:
        personas = [
            Persona(name=n, values={"fairness": 1}, description=f"You are {n}.", model=f"stub@{server.url}")
            for n in ("alpha", "bravo", "charlie")
        ]
        result = await Debate(personas, "debate", rounds=1).run("Is it good?", out=tmp_path / "t.jsonl")
    messages = result.transcript.messages
    assert messages and all(m.ok for m in messages)
    assert {m.model for m in messages} == {f"stub@{server.url}"}
    assert all((m.prompt_tokens, m.completion_tokens) == (40, 6) for m in messages)
    header = result.transcript.header
    assert header.models[f"stub@{server.url}"]["backend"] == "openai"
    assert result.transcript.outcome is not None


def test_a_yaml_card_names_an_endpoint_and_its_settings_are_checked(tmp_path):
    from agora import load_persona
    from agora.errors import ConfigError

    path = tmp_path / "remote.yaml"
    body = (
        "name: remote\nmodel: qwen2.5-coder:0.5b@http://127.0.0.1:11434/v1\nvalues: {fairness: 1}\n"
        "description: d\nendpoint:\n  api_key_env: AGORA_TEST_KEY\n  max_concurrency: 2\n"
    )
    path.write_text(body)
    b = resolve_backend(load_persona(path))
    assert (b.model, b.base_url, b.max_concurrency) == ("qwen2.5-coder:0.5b", "http://127.0.0.1:11434/v1", 2)
    path.write_text(body + "  retries: 5\n")
    with pytest.raises(ConfigError) as info:
        load_persona(path)
    assert info.value.field == "endpoint.retries" and str(path) in str(info.value)
    path.write_text(body.replace("max_concurrency: 2", "completion_template: llama3"))
    with pytest.raises(ConfigError) as info:
        load_persona(path)
    assert info.value.field == "endpoint.completion_template"


async def test_the_api_key_goes_only_where_the_users_allowlist_sends_it(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("AGORA_ENDPOINT_KEYS", raising=False)
    monkeypatch.setenv("AGORA_TEST_KEY", "sekret")
    async with StubServer(lambda path, body: chat_reply("ok")) as server:
        p = Persona(
            name="r",
            values={"fairness": 1},
            description="d",
            model=f"m@{server.url}",
            endpoint={"api_key_env": "AGORA_TEST_KEY"},
        )
        await resolve_backend(p).generate(REQUEST)  # the card asks, the user has not allowed: no header
        monkeypatch.setenv("AGORA_ENDPOINT_KEYS", f"{server.url}=AGORA_TEST_KEY")
        await resolve_backend(p).generate(REQUEST)
        await backend(server.url).generate(REQUEST)  # no key configured in Python: no header
        await backend(server.url, api_key="from-python").generate(REQUEST)
    assert "authorization" not in server.headers[0]
    assert server.headers[1]["authorization"] == "Bearer sekret"
    assert "authorization" not in server.headers[2]
    assert server.headers[3]["authorization"] == "Bearer from-python"

"""The endpoint client's limits, piece by piece: Retry-After parsing, the fair per-URL concurrency limit, the
reply size cap, the request deadline, redirects, and one clear line for every malformed reply (chat and scoring)."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate

import httpx
import pytest
from openai_stub import StubServer, chat_reply

from agora.backends import ChatMessage, GenerationRequest, ScoreRequest, ScoringUnsupported
from agora.backends.fair_limit import FairLimit, register
from agora.backends.http_reply import parse_retry_after, transport_problem
from agora.backends.openai_backend import EndpointError, OpenAIBackend

REQUEST = GenerationRequest((ChatMessage("user", "Yes or no?"),), max_new_tokens=8, agent="a")
SCORE = ScoreRequest((ChatMessage("user", "Pick one"),), ("yes",), agent="a")


def backend(url: str, **kw) -> OpenAIBackend:
    kw.setdefault("backoff_s", 0.01)
    return OpenAIBackend(url, "stub", **kw)


# -- Retry-After ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, seconds",
    [("0", 0.0), ("2", 2.0), ("0.25", 0.25), (" 7 ", 7.0), ("1000000000", 1e9), (None, None)],
)
def test_retry_after_in_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize(
    "value", ["nan", "NaN", "inf", "-inf", "-5", "1e3", "", "soon", "0x10", "1_000", "5 s"]
)
def test_retry_after_that_is_no_wait_is_ignored(value):
    assert parse_retry_after(value) is None


def test_retry_after_as_an_http_date():
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30.0)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after("Wed, 99 Foo 2024 99:99:99 GMT", now=now) is None


async def test_a_long_retry_after_is_capped_and_one_past_the_deadline_is_not_waited():
    answers = [(429, {"error": "later"}, {"Retry-After": "30"}), chat_reply("ok")]
    async with StubServer(lambda path, body: answers.pop(0)) as server:
        start = time.perf_counter()
        gen = await backend(server.url, max_retry_after_s=0.2).generate(REQUEST)
    assert gen.text == "ok" and 0.2 <= time.perf_counter() - start < 1.5
    async with StubServer(lambda path, body: (503, "busy", {"Retry-After": "30"})) as server:
        start = time.perf_counter()
        with pytest.raises(
            EndpointError, match=r"Retry-After asks for 30 s, past the request deadline of 5 s"
        ):
            await backend(server.url, deadline_s=5).generate(REQUEST)
    assert time.perf_counter() - start < 1.0 and len(server.requests) == 1


async def test_the_deadline_bounds_the_whole_request_across_retries():
    async def slow(path, body):
        await asyncio.sleep(5)

    async with StubServer(slow) as server:
        b = backend(server.url, timeout_s=0.4, max_retries=5, deadline_s=0.7)
        await b.warm_up()
        start = time.perf_counter()
        with pytest.raises(
            EndpointError, match=r"failed after 2 attempts: no answer within 0\.[12]\d* s"
        ) as info:
            await b.generate(REQUEST)
    assert time.perf_counter() - start < 1.2
    assert "past the request deadline of 0.7 s" in str(info.value)


# -- the fair limit -------------------------------------------------------------------------------------------------
class Owner:
    def __init__(self, model: str):
        self.model = model


async def test_one_model_cannot_take_every_slot_while_another_is_known():
    url = "http://fair.test/v1"
    owners = [Owner("hung"), Owner("ok")]
    for owner in owners:
        register(url, owner)
    limit = FairLimit(url, 3)
    for _ in range(2):
        await limit.acquire("hung")
    blocked = asyncio.ensure_future(limit.acquire("hung"))
    await asyncio.sleep(0)
    assert not blocked.done() and limit.busy == 2  # the third slot is kept for "ok"
    await asyncio.wait_for(limit.acquire("ok"), 0.1)
    assert limit.in_flight == {"hung": 2, "ok": 1}
    limit.release("ok")  # a slot frees: "hung" holds 2, "ok" none and known, so it stays kept for "ok"
    await asyncio.sleep(0)
    assert not blocked.done()
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    assert limit.busy == 2 and not limit._waiters


async def test_a_model_alone_on_its_url_uses_every_slot_and_freed_slots_go_to_the_model_holding_fewest():
    limit = FairLimit("http://alone.test/v1", 3)
    for _ in range(3):
        await asyncio.wait_for(limit.acquire("solo"), 0.1)
    assert limit.busy == 3
    order: list[str] = []

    async def wait(model: str) -> None:
        await limit.acquire(model)
        order.append(model)

    waiting = [asyncio.ensure_future(wait(m)) for m in ("solo", "solo", "other")]
    await asyncio.sleep(0)
    limit.release("solo")
    await asyncio.sleep(0)
    assert order == ["other"]  # it holds none, so the freed slot is its
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_a_granted_slot_whose_waiter_was_cancelled_is_given_back():
    limit = FairLimit("http://cancel.test/v1", 1)
    await limit.acquire("a")
    task = asyncio.ensure_future(limit.acquire("a"))
    await asyncio.sleep(0)
    limit.release("a")  # grants the slot to the waiting task ...
    task.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limit.busy == 0


# -- sizes, redirects, transport errors -----------------------------------------------------------------------------
async def test_a_reply_over_the_byte_limit_fails_the_request_in_one_line():
    async with StubServer(lambda path, body: chat_reply("x" * 5000)) as server:
        with pytest.raises(
            EndpointError, match=r"more than the 1000 agora reads; the request failed"
        ) as info:
            await backend(server.url, max_reply_bytes=1000).generate(REQUEST)
    assert server.url in str(info.value) and len(server.requests) == 1  # not retried


async def test_text_beyond_the_token_budget_is_cut_and_marked():
    async with StubServer(lambda path, body: chat_reply("word " * 1000)) as server:
        gen = await backend(server.url).generate(REQUEST)
    assert len(gen.text) <= 8 * 16 and gen.finish_reason == "length" and "max_tokens 8" in gen.extra["note"]


async def test_redirects_are_not_followed_and_carry_no_key():
    async with StubServer(lambda path, body: (307, "", {"Location": "http://elsewhere.test/v1"})) as server:
        with pytest.raises(
            EndpointError, match=r"HTTP 307, redirected to http://elsewhere.test/v1; agora does not"
        ):
            await backend(server.url, api_key="k").generate(REQUEST)
    assert len(server.requests) == 1


def test_transport_errors_without_a_message_still_say_what_happened():
    assert (
        transport_problem(httpx.ReadError(""))
        == "ReadError: the connection broke while the reply was being read"
    )
    assert transport_problem(httpx.ConnectError("refused")) == "ConnectError: refused"
    assert transport_problem(httpx.TransportError("")) == "TransportError: the connection failed"


async def test_a_connection_closed_without_a_reply_is_one_clear_line():
    async def close(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(EndpointError) as info:
            await backend(f"http://127.0.0.1:{port}/v1", max_retries=0).generate(REQUEST)
    line = str(info.value)
    assert "RemoteProtocolError: " in line and not line.endswith(": ") and "\n" not in line


async def test_malformed_usage_counts_are_recorded_as_zero():
    body = {
        "choices": [{"message": {"content": "ok"}}],
        "usage": {"prompt_tokens": "many", "completion_tokens": -3},
    }
    async with StubServer(lambda path, b: (200, body, {})) as server:
        gen = await backend(server.url).generate(REQUEST)
    assert (gen.text, gen.prompt_tokens, gen.completion_tokens) == ("ok", 0, 0)


# -- scoring replies ------------------------------------------------------------------------------------------------
def _logprobs(**fields) -> dict:
    logprobs = {"tokens": ["a", "yes"], "token_logprobs": [None, -1.0], "text_offset": [0, 1]} | fields
    return {"choices": [{"logprobs": logprobs}], "usage": {"completion_tokens": 0}}


@pytest.mark.parametrize(
    "body, problem",
    [
        ([], "the reply is a list, not a JSON object"),
        ({"choices": []}, "'choices' is empty"),
        ({"choices": [{"logprobs": "yes"}]}, "choices[0].logprobs is a string, not an object"),
        (_logprobs(text_offset="0,1"), "logprobs.text_offset is a string, not a list"),
        (_logprobs(token_logprobs=[None]), "text_offset has 2 entries but token_logprobs 1"),
        (_logprobs(token_logprobs=[None, "low"]), "token_logprobs[1] is 'low', not a log-probability"),
        (_logprobs(token_logprobs=[None, float("nan")]), "token_logprobs[1] is nan"),
        (_logprobs(token_logprobs=[None, 3.0]), "token_logprobs[1] is 3.0"),
        (_logprobs(text_offset=[0, "1"]), "text_offset[1] is '1', not a character offset"),
        (_logprobs(tokens=[1, 2]), "logprobs.tokens is not a list of strings"),
    ],
)
async def test_malformed_log_probabilities_fail_the_ballot_in_one_line(body, problem):
    async with StubServer(lambda path, b: (200, body, {})) as server:
        with pytest.raises(EndpointError) as info:
            await backend(server.url, completion_template="chatml").score(SCORE)
    line = str(info.value)
    assert problem in line and f"{server.url}/completions" in line and "\n" not in line


async def test_absent_log_probabilities_mean_the_server_cannot_score():
    async with StubServer(
        lambda path, b: (200, {"choices": [{"text": "x", "logprobs": None}]}, {})
    ) as server:
        with pytest.raises(ScoringUnsupported, match="no prompt log-probabilities"):
            await backend(server.url, completion_template="chatml").score(SCORE)

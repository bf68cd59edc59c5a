"""Fault injection over real HTTP: a loopback server (tests/http_fault_server.py) hangs, trickles, floods, answers
malformed JSON or asks for impossible retry waits, one fault per model name, beside healthy model names on the
same URL. Each test runs a real :class:`Debate` with several agents on that URL and short endpoint timeouts, and
checks its outcome (healthy agents answer; each faulty one fails with one line naming the endpoint and the fault)
and its timing (a fault costs at most its deadline, never the protocol's timeout)."""

from __future__ import annotations

import time

import pytest
from http_fault_server import (
    FaultServer,
    flood,
    hang,
    healthy,
    long_text,
    past_date,
    persona,
    reply,
    then,
    trickle,
)

from agora import Debate, load_protocol
from agora.backends.http_reply import MAX_REPLY_BYTES
from agora.backends.reply_shapes import MAX_CHARS_PER_TOKEN

#: each fault (a model name) -> what its failed turn's error line must say; the endpoint's URL is checked too
FAULTS = {
    "hang": (hang(), "no answer within 1 s"),
    "trickle": (trickle(0.5), "the reply was still arriving after 1 s"),
    "flood": (flood(50 * 2**20), f"the reply passed {MAX_REPLY_BYTES} bytes"),
    "flood-declared": (flood(50 * 2**20, declare=True), f"more than the {MAX_REPLY_BYTES} agora reads"),
    "not-json": (reply(200, b"<html>busy</html>"), "the reply is not JSON"),
    "empty-body": (reply(200, b""), "the reply is not JSON (0 bytes)"),
    "json-list": (reply(200, [1, 2]), "the reply is a list, not a JSON object"),
    "json-string": (reply(200, '"ok"'), "the reply is a string, not a JSON object"),
    "no-choices": (reply(200, {"error": {"message": "model not loaded"}}), "has no 'choices'"),
    "choices-dict": (reply(200, {"choices": {"0": 1}}), "'choices' is an object, not a list"),
    "empty-choices": (reply(200, {"choices": []}), "'choices' is empty"),
    "choice-null": (reply(200, {"choices": [None]}), "choices[0] is null, not an object"),
    "no-message": (reply(200, {"choices": [{"text": "hi"}]}), "choices[0] has no 'message'"),
    "message-string": (reply(200, {"choices": [{"message": "hi"}]}), "message is a string, not an object"),
    "content-number": (
        reply(200, {"choices": [{"message": {"content": 42}}]}),
        "content is a number, not text",
    ),
    "content-null": (reply(200, {"choices": [{"message": {"content": None}}]}), "content is null, not text"),
    "retry-nan": (reply(503, "busy", {"Retry-After": "nan"}), "Retry-After 'nan' ignored"),
    "retry-inf": (reply(503, "busy", {"Retry-After": "inf"}), "Retry-After 'inf' ignored"),
    "retry-negative": (reply(429, "slow down", {"Retry-After": "-5"}), "Retry-After '-5' ignored"),
    "retry-huge": (reply(503, "busy", {"Retry-After": "1000000000"}), "past the request deadline"),
    "retry-garbage": (reply(503, "busy", {"Retry-After": "soon\u00e9"}), "ignored"),
}
#: model names that recover: their agents answer
RECOVER = {
    "retry-date": then(reply(503, "busy", {"Retry-After": past_date()}), 1, healthy()),
    "retry-seconds": then(reply(429, "busy", {"Retry-After": "0.2"}), 1, healthy()),
    "verbose": long_text(200_000),
}
DEADLINE_S = 1.0  # timeout_s 1, max_retries 0: the most any fault may cost a turn
SLACK_S = 1.0


def vote_protocol(**overrides):
    """One model call per agent (propose), ballots of their own answers; a long protocol timeout, so that only
    the endpoint's deadlines can end a faulty turn in time."""
    return load_protocol("vote").with_overrides(**{"timeout_s": 30, **overrides})


async def test_every_fault_fails_its_turn_in_one_line_within_its_deadline():
    faults = {name: fault for name, (fault, _) in FAULTS.items()} | RECOVER
    with FaultServer(faults) as server:
        people = [
            persona(f"ok{i}", f"ok@{server.url}", timeout_s=1, max_retries=0, max_concurrency=64)
            for i in range(3)
        ]
        for name in FAULTS:
            retries = 1 if name.startswith("retry") else 0
            people.append(
                persona(name, f"{name}@{server.url}", timeout_s=1, max_retries=retries, max_concurrency=64)
            )
        for name in RECOVER:
            people.append(
                persona(name, f"{name}@{server.url}", timeout_s=1, max_retries=1, max_concurrency=64)
            )
        start = time.perf_counter()
        result = await Debate(people, vote_protocol(quorum=0.2)).run("Is it good?")
        elapsed = time.perf_counter() - start
    messages = {m.agent: m for m in result.transcript.messages if m.phase == "propose"}
    for name in ["ok0", "ok1", "ok2", *RECOVER]:
        assert messages[name].ok, (name, messages[name].error)
    for name, (_, expected) in FAULTS.items():
        error = messages[name].error or ""
        assert not messages[name].ok and expected in error, (name, error)
        assert server.url in error and "\n" not in error and len(error) < 600, (name, error)
        assert messages[name].timing["latency_s"] < DEADLINE_S + SLACK_S, (name, messages[name].timing)
    # the wait a retry may take: a date in the past retries at once; nan, inf and negatives fall back to backoff
    assert len(server.of("retry-date")) == 2 and len(server.of("retry-nan")) == 2
    assert len(server.of("retry-huge")) == 1  # waiting 1e9 s cannot meet the deadline: it fails at once
    assert elapsed < DEADLINE_S + 3 * SLACK_S
    verbose = messages["verbose"]
    assert len(verbose.text) <= 48 * MAX_CHARS_PER_TOKEN and verbose.finish_reason == "length"
    assert result.transcript.outcome is not None


async def test_a_flood_of_text_never_reaches_the_other_agents_prompts():
    """A server that ignores max_tokens: its 200 000 characters are cut to the budget before anyone reads them."""
    with FaultServer({"verbose": long_text(200_000)}) as server:
        people = [persona(f"ok{i}", f"ok@{server.url}") for i in range(2)] + [
            persona("v", f"verbose@{server.url}")
        ]
        result = await Debate(people, "debate", rounds=1).run("Is it good?")
        later = [r for r in server.requests if r.model == "ok" and "critique" in str(r.body).lower()]
    assert result.transcript.status == "completed"
    assert all(len(m.text) <= 80 * MAX_CHARS_PER_TOKEN for m in result.transcript.messages)
    assert max(r.size for r in server.requests) < 30_000
    assert later  # the critique phase showed the verbose agent's (cut) proposal to the others


async def test_hung_model_names_do_not_starve_healthy_ones_on_the_same_url():
    """Four agents on two model names the server never answers, listed first, then three healthy ones, all on one
    URL with 3 slots and the default endpoint timeout (120 s): before, the hung requests held every slot until
    the protocol's timeout and 0 of 7 answered."""
    faults = {"stuck-a": hang(), "stuck-b": hang()}
    with FaultServer(faults) as server:
        people = [persona(f"s{i}", f"stuck-{'ab'[i % 2]}@{server.url}", max_concurrency=3) for i in range(4)]
        people += [persona(f"ok{i}", f"ok@{server.url}", max_concurrency=3) for i in range(3)]
        result = await Debate(people, vote_protocol(timeout_s=2, quorum=0.4)).run("Is it good?")
    messages = {m.agent: m for m in result.transcript.messages}
    assert [n for n, m in messages.items() if m.ok] == ["ok0", "ok1", "ok2"]
    assert all(messages[f"ok{i}"].timing["latency_s"] < 1.0 for i in range(3))
    assert all("timed out after 2 s" in (messages[f"s{i}"].error or "") for i in range(4))


@pytest.mark.parametrize("fault", ["trickle", "hang"])
async def test_a_stall_costs_its_deadline_across_retries_not_the_protocol_timeout(fault):
    """timeout_s bounds each attempt as a whole; with retries the request ends within its deadline."""
    faults = {"stall": trickle(0.25) if fault == "trickle" else hang()}
    with FaultServer(faults) as server:
        people = [
            persona("ok", f"ok@{server.url}"),
            persona("stall", f"stall@{server.url}", timeout_s=0.6, max_retries=2),
        ]
        start = time.perf_counter()
        result = await Debate(people, vote_protocol(quorum=0.5)).run("Is it good?")
        elapsed = time.perf_counter() - start
    stalled = next(m for m in result.transcript.messages if m.agent == "stall")
    assert "failed after 3 attempts" in (stalled.error or "")
    # three attempts of 0.6 s and backoffs of 0.5 s and 1 s: about 3.8 s, far below the protocol's 30 s
    assert 1.8 <= elapsed < 3 * 0.6 + 0.5 + 1.0 + SLACK_S
    assert len(server.of("stall")) == 3

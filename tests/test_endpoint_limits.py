"""The fair per-URL concurrency limit: one model name cannot take every slot while another model is known on the
URL, a model alone uses every slot, freed slots go to the model holding fewest, and cancelled waiters give back
what they were granted."""

from __future__ import annotations

import asyncio

import pytest

from agora.backends.fair_limit import FairLimit, register


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

"""The batcher's control of a running batch: early delivery of finished requests, and dropping abandoned ones."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agora.backends.batcher import BatchControl, Batcher


@pytest.fixture
def executor():
    pool = ThreadPoolExecutor(max_workers=1)
    yield pool
    pool.shutdown(wait=True)


async def test_a_finished_request_is_delivered_before_its_batch_ends(executor):
    release = threading.Event()

    def run(requests, control: BatchControl):
        control.deliver(0, f"{requests[0]} done")  # the first row finishes early...
        release.wait(5)  # ...while the second is still running
        return [f"{r} done" for r in requests]

    batcher = Batcher(run, executor, cancellable=True)
    fast = asyncio.ensure_future(batcher.submit("fast"))
    slow = asyncio.ensure_future(batcher.submit("slow"))
    assert await asyncio.wait_for(fast, 2) == "fast done"
    assert not slow.done()
    release.set()
    assert await asyncio.wait_for(slow, 2) == "slow done"


async def test_an_abandoned_request_is_seen_by_the_running_batch(executor):
    seen = threading.Event()

    def run(requests, control: BatchControl):
        deadline = time.monotonic() + 5
        while not control.abandoned(1) and time.monotonic() < deadline:
            time.sleep(0.01)  # a decoding step
        if control.abandoned(1):
            seen.set()
        assert not control.abandoned(0)
        return [f"{r} done" for r in requests]

    batcher = Batcher(run, executor, cancellable=True)
    kept = asyncio.ensure_future(batcher.submit("kept"))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(batcher.submit("runaway"), 0.1)
    assert await asyncio.wait_for(kept, 5) == "kept done"
    assert seen.is_set()


async def test_plain_batchers_get_only_the_requests(executor):
    batcher = Batcher(lambda requests: [r * 2 for r in requests], executor)
    assert await asyncio.gather(batcher.submit(1), batcher.submit(2)) == [2, 4]

"""Dynamic batching: requests that reach one model together run as one batched call in a worker thread.

Agents of a phase submit their requests concurrently; the batcher waits one turn of the event loop so that all of
them are queued, then hands the whole queue to ``run_batch`` in the model's single worker thread. Requests that
arrive while a batch is running form the next batch. The event loop never blocks on model work.

A ``cancellable`` batcher also hands ``run_batch`` a :class:`BatchControl`: the batch can ask whether anyone still
waits for a request (a caller that timed out does not, so the worker stops spending time on it) and deliver a
request's result as soon as it is ready, so a straggler in the batch does not hold back the others.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")


class _LoopQueue(Generic[Req, Res]):
    def __init__(self) -> None:
        self.pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self.task: asyncio.Task[None] | None = None


class BatchControl(Generic[Res]):
    """Handed to a running batch (in the worker thread): who still waits, and early delivery of results."""

    def __init__(self, loop: asyncio.AbstractEventLoop, futures: Sequence[asyncio.Future[Res]]):
        self._loop = loop
        self._futures = list(futures)
        self._gone = [f.cancelled() for f in self._futures]
        for i, future in enumerate(self._futures):
            future.add_done_callback(lambda f, i=i: self._mark(i, f))

    def _mark(self, i: int, future: asyncio.Future[Res]) -> None:
        if future.cancelled():
            self._gone[i] = True

    def abandoned(self, i: int) -> bool:
        """True once nobody waits for request ``i`` any more (its caller was cancelled, e.g. by a timeout)."""
        return self._gone[i]

    def deliver(self, i: int, result: Res) -> None:
        """Give request ``i``'s caller its result now, before the rest of the batch is done (thread-safe)."""
        self._loop.call_soon_threadsafe(_settle, self._futures[i], result)


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


class Batcher(Generic[Req, Res]):
    """Collects concurrent ``submit`` calls into batches for ``run_batch(list_of_requests) -> list_of_results``."""

    def __init__(
        self,
        run_batch: Callable[..., Sequence[Res]],
        executor: ThreadPoolExecutor,
        max_batch_size: int = 64,
        cancellable: bool = False,
    ):
        self._run_batch = run_batch
        self._executor = executor
        self.max_batch_size = max_batch_size
        #: call ``run_batch(requests, control)`` with a :class:`BatchControl` instead of ``run_batch(requests)``
        self.cancellable = cancellable
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue[Req, Res]] = (
            weakref.WeakKeyDictionary()
        )

    async def submit(self, request: Req) -> Res:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _LoopQueue()
        future: asyncio.Future[Res] = loop.create_future()
        queue.pending.append((request, future))
        if queue.task is None or queue.task.done():
            queue.task = loop.create_task(self._drain(queue))
        return await future

    async def _drain(self, queue: _LoopQueue[Req, Res]) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # let every agent of the phase enqueue first
        while queue.pending:
            batch = [item for item in queue.pending[: self.max_batch_size] if not item[1].done()]
            del queue.pending[: self.max_batch_size]
            if not batch:
                continue
            args: list[Any] = [[req for req, _ in batch]]
            if self.cancellable:
                args.append(BatchControl(loop, [future for _, future in batch]))
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, *args)
            except BaseException as exc:  # noqa: BLE001 - delivered to every waiter
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
            await asyncio.sleep(0)

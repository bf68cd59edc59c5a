"""Dynamic batching: requests that reach one model together run as one batched call in a worker thread.

Agents of a phase submit their requests concurrently; the batcher waits one turn of the event loop so that all of
them are queued, then hands the whole queue to ``run_batch`` in the model's single worker thread. Requests that
arrive while a batch is running form the next batch. The event loop never blocks on model work.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")


class _LoopQueue(Generic[Req, Res]):
    def __init__(self) -> None:
        self.pending: list[tuple[Req, asyncio.Future[Res]]] = []
        self.task: asyncio.Task[None] | None = None


class Batcher(Generic[Req, Res]):
    """Collects concurrent ``submit`` calls into batches for ``run_batch(list_of_requests) -> list_of_results``."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[Req]], Sequence[Res]],
        executor: ThreadPoolExecutor,
        max_batch_size: int = 64,
    ):
        self._run_batch = run_batch
        self._executor = executor
        self.max_batch_size = max_batch_size
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
            try:
                results = await loop.run_in_executor(
                    self._executor, self._run_batch, [req for req, _ in batch]
                )
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

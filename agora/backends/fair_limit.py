"""A concurrency limit per endpoint URL that one model name cannot fill.

Every card naming the same URL shares its ``max_concurrency`` slots. With a plain semaphore, requests for a model
the server never answers (a hung or missing model name) could take every slot, and requests for the healthy models
on that URL would wait until those timed out. :class:`FairLimit` keeps one slot for every other model name known
on the URL: a model takes its first slot whenever one is free, and a further slot only while more slots are free
than there are other models holding none. So, as long as a URL serves no more model names than it has slots,
every model always gets at least one slot, whatever the others do; the rest is shared, and a freed slot goes to
the waiting request whose model holds the fewest (the earliest among equals).

The models known on a URL are those of its live backends (:func:`register`) and of its waiting requests. The
limits belong to the event loop they run in (asyncio primitives do); the first size asked for a URL in a loop is
its size.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import Counter
from collections.abc import AsyncIterator
from typing import Protocol


class _HasModel(Protocol):
    model: str


_OWNERS: dict[str, weakref.WeakSet[_HasModel]] = {}
_LIMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, FairLimit]] = (
    weakref.WeakKeyDictionary()
)


def register(url: str, owner: _HasModel) -> None:
    """Make ``owner.model`` known on ``url`` while ``owner`` (a backend) lives, so a slot is kept for it."""
    _OWNERS.setdefault(url, weakref.WeakSet()).add(owner)


def known_models(url: str) -> set[str]:
    """The model names of the live backends registered for ``url``."""
    return {owner.model for owner in list(_OWNERS.get(url, ()))}


def limit_for(url: str, size: int) -> FairLimit:
    """The running loop's limit for ``url`` (made with ``size`` slots on first use)."""
    per_loop = _LIMITS.setdefault(asyncio.get_running_loop(), {})
    if url not in per_loop:
        per_loop[url] = FairLimit(url, size)
    return per_loop[url]


class FairLimit:
    """At most ``size`` requests in flight to ``url``, with a slot kept for every other known model."""

    def __init__(self, url: str, size: int):
        if size < 1:
            raise ValueError("a concurrency limit needs at least one slot")
        self.url = url
        self.size = size
        self.in_flight: Counter[str] = Counter()
        self._waiters: list[tuple[str, asyncio.Future[None]]] = []

    @property
    def busy(self) -> int:
        return sum(self.in_flight.values())

    def _admissible(self, model: str) -> bool:
        free = self.size - self.busy
        if free <= 0:
            return False
        if self.in_flight[model] == 0:
            return True
        others = (known_models(self.url) | {m for m, _ in self._waiters}) - {model}
        idle = sum(1 for m in others if self.in_flight[m] == 0)
        return free > idle

    def _wake(self) -> None:
        """Grant free slots to waiting requests: admissible ones, the model holding fewest first."""
        while True:
            ready = [
                (self.in_flight[m], i) for i, (m, fut) in enumerate(self._waiters) if self._admissible(m)
            ]
            if not ready:
                return
            _, index = min(ready)
            model, fut = self._waiters.pop(index)
            if not fut.done():
                self.in_flight[model] += 1
                fut.set_result(None)

    async def acquire(self, model: str) -> None:
        """Wait for a slot for ``model`` (at once when it may take one and no waiting request may)."""
        self._wake()  # the known models may have changed since the last release
        if self._admissible(model):
            self.in_flight[model] += 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((model, fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted, then cancelled before it ran: give it back
                self.release(model)
            else:
                self._waiters = [(m, f) for m, f in self._waiters if f is not fut]
                self._wake()
            raise

    def release(self, model: str) -> None:
        self.in_flight[model] -= 1
        if self.in_flight[model] <= 0:
            del self.in_flight[model]
        self._wake()

    @contextlib.asynccontextmanager
    async def slot(self, model: str) -> AsyncIterator[None]:
        """Hold a slot for ``model`` for the body of an ``async with``."""
        await self.acquire(model)
        try:
            yield
        finally:
            self.release(model)

"""Subscriptions: the dispatcher's events as a blocking iterator or an ``async for`` (pure core).

:meth:`fixgw.dispatch.Dispatcher.subscribe` and ``subscribe_async`` make them; the
dispatcher thread ``put``s every event into each one; ``close()`` unsubscribes and
ends the iteration after the events already queued.
"""

from __future__ import annotations

import asyncio
import queue
from typing import TYPE_CHECKING

from fixgw.models.event import Event

if TYPE_CHECKING:
    from fixgw.dispatch import Dispatcher

_CLOSED = object()


class Subscription:
    """A blocking iterator of events; ``close()`` ends it."""

    def __init__(self, owner: "Dispatcher"):
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._owner = owner

    def put(self, event: Event) -> None:
        self._q.put(event)

    def get(self, timeout: float | None = None) -> Event:
        item = self._q.get(timeout=timeout)
        if item is _CLOSED:
            self._q.put(_CLOSED)
            raise StopIteration
        return item

    def __iter__(self):
        while True:
            try:
                yield self.get()
            except StopIteration:
                return

    def close(self) -> None:
        self._owner.unsubscribe(self)
        self._q.put(_CLOSED)


class AsyncSubscription:
    """``async for event in sub`` on the caller's event loop."""

    def __init__(self, owner: "Dispatcher", loop: asyncio.AbstractEventLoop):
        self._owner, self._loop = owner, loop
        self._q: asyncio.Queue = asyncio.Queue()

    def put(self, event: Event) -> None:
        self._loop.call_soon_threadsafe(self._q.put_nowait, event)

    def __aiter__(self):
        return self

    async def __anext__(self) -> Event:
        item = await self._q.get()
        if item is _CLOSED:
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        self._owner.unsubscribe(self)
        self._loop.call_soon_threadsafe(self._q.put_nowait, _CLOSED)

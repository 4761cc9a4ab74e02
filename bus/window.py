"""A window of in-flight slots: a lighter ``asyncio.Semaphore`` for hot loops.

On Python 3.11 ``asyncio.Semaphore.acquire`` calls ``locked``, which runs a
generator over the waiters on every call. A publisher takes a slot
per message, so this window takes a free slot with one comparison and hands
a released slot straight to the longest waiter.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Window:
    """Slots for work in flight; ``acquire`` waits in turn while none is free."""

    def __init__(self, size: int) -> None:
        if size < 1:
            msg = f"invalid window size {size}: expected 1 or more"
            raise ValueError(msg)
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> int:
        """Number of free slots."""
        return self._free

    async def acquire(self) -> None:
        """Take a slot, waiting behind earlier callers while none is free."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return

        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # The slot was handed over just before the cancellation.
                self.release()
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give a slot back: to the longest waiter, or to the free slots."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

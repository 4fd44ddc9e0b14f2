"""Fair admission of answers from concurrent batches (several trainer workers, one judge pool).

At most `capacity` answers are scored at once. When more are waiting, a freed slot goes to the
batches in turn (round robin), so a small batch that arrives behind a large one starts within a
few completions instead of waiting for the whole large batch. Used inside one event loop.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class FairGate:
    def __init__(self, capacity: int):
        self.capacity = max(1, capacity)
        self.in_use = 0
        self._waiting: OrderedDict[int, deque[asyncio.Future]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    async def acquire(self, batch: int) -> None:
        if self.in_use < self.capacity and not self._waiting:
            self.in_use += 1
            return
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(batch, deque()).append(future)
        try:
            await future  # the slot is handed over by release(): in_use already counts it
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot while being cancelled: pass it on
            else:
                self._forget(batch, future)
            raise

    def release(self) -> None:
        while self._waiting:
            batch, queue = next(iter(self._waiting.items()))
            future = queue.popleft()
            if queue:
                self._waiting.move_to_end(batch)  # this batch goes to the back of the turn order
            else:
                del self._waiting[batch]
            if not future.done():
                future.set_result(None)
                return
        self.in_use -= 1

    def _forget(self, batch: int, future: asyncio.Future) -> None:
        queue = self._waiting.get(batch)
        if queue is not None and future in queue:
            queue.remove(future)
            if not queue:
                del self._waiting[batch]

    @asynccontextmanager
    async def slot(self, batch: int) -> AsyncIterator[None]:
        await self.acquire(batch)
        try:
            yield
        finally:
            self.release()

"""Group commit: many small writes of the same kind in one statement, each caller waiting for its own.

Under load, a write that arrives while the previous one runs joins the next batch; when writes
are few, each goes alone at once, so nothing waits for a timer or a batch to fill. A caller
returns only once its batch is written (or raises what the write raised), so what it answers,
or holds as "in flight", is as durable as with a write of its own.

On SQLite (one writer at a time, and a trip to the connection's thread per statement) a
statement for thirty rows costs little more than one for a single row. A batch holds at most
`max_batch` items, so that its statement stays within the database's limit on bound parameters
(PostgreSQL's is 65,535, SQLite's 32,766; an inbox row binds ten); the rest wait for the
batches after it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """`await writer.write(item)` runs `write_all(batch)` for the batch `item` joined and returns
    this item's result (`write_all` returns one result per item, in order)."""

    def __init__(self, write_all: Callable[[list[Item]], Awaitable[Sequence[Result]]], *,
                 max_batch: int = 1000) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write_all = write_all
        self._max_batch = max_batch
        self._waiting: deque[tuple[asyncio.Future[Sequence[Result]], list[Item]]] = deque()  # not yet being written
        self._writer: asyncio.Task[None] | None = None

    async def write(self, item: Item) -> Result:
        if not self._waiting or len(self._waiting[-1][1]) >= self._max_batch:
            self._waiting.append((asyncio.get_running_loop().create_future(), []))
        written, items = self._waiting[-1]
        place = len(items)
        items.append(item)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_batches())
        return (await asyncio.shield(written))[place]

    async def _write_batches(self) -> None:
        try:
            while self._waiting:
                written, items = self._waiting.popleft()
                try:
                    results = await self._write_all(items)
                    if len(results) != len(items):
                        raise RuntimeError(f"a batch of {len(items)} writes gave {len(results)} results")
                except Exception as error:
                    written.set_exception(error)
                    written.exception()  # retrieved here too: every waiter may have been cancelled
                except BaseException:
                    written.cancel()
                    raise
                else:
                    written.set_result(results)
        finally:
            self._writer = None
            while self._waiting:  # cancelled between batches: the later ones' callers are told so
                self._waiting.popleft()[0].cancel()

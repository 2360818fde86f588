"""Group commit: many small writes of the same kind in one statement, each caller waiting for its own.

Under load, a write that arrives while the previous one runs joins the next batch; when writes
are few, each goes alone at once, so nothing waits for a timer or a batch to fill. A caller
returns only once its batch is written (or raises what the write raised), so what it answers,
or holds as "in flight", is as durable as with a write of its own.

On SQLite (one writer at a time, and a trip to the connection's thread per statement) a
statement for thirty rows costs little more than one for a single row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupWriter(Generic[Item, Result]):
    """`await writer.write(item)` runs `write_all(batch)` for the batch `item` joined and returns
    this item's result (`write_all` returns one result per item, in order)."""

    def __init__(self, write_all: Callable[[list[Item]], Awaitable[Sequence[Result]]]) -> None:
        self._write_all = write_all
        self._next: tuple[asyncio.Future[Sequence[Result]], list[Item]] | None = None  # not yet being written
        self._writer: asyncio.Task[None] | None = None

    async def write(self, item: Item) -> Result:
        if self._next is None:
            self._next = (asyncio.get_running_loop().create_future(), [])
        written, items = self._next
        place = len(items)
        items.append(item)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_batches())
        return (await asyncio.shield(written))[place]

    async def _write_batches(self) -> None:
        try:
            while self._next is not None:
                (written, items), self._next = self._next, None
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
            if self._next is not None:  # cancelled between batches: the next one's callers are told so
                self._next[0].cancel()
                self._next = None

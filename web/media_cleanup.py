"""Removing uploads nobody uses: pictures uploaded but never posted, and those a deleted post
let go of and no redraft took back, once a day has passed (Mastodon's media cleanup).

`MediaCleanup.run` is one of the workers `rounds serve` and `rounds worker` run. Rows go
first, in a transaction; their files after it commits, so a file is never removed while a
row still names it. Two workers racing delete each row once (the second finds it gone) and
removing a missing file is no error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import select

from storage.engine import Database
from storage.tables import MediaAttachment
from web.media import MediaStore

log = logging.getLogger(__name__)

KEPT_FOR = timedelta(days=1)
BATCH = 500
INTERVAL = 600.0  # seconds between passes


class MediaCleanup:
    def __init__(self, database: Database, store: MediaStore,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), interval: float = INTERVAL) -> None:
        self._database = database
        self._store = store
        self._clock = clock
        self._interval = interval

    async def run_once(self) -> int:
        """Remove up to BATCH unused uploads older than KEPT_FOR; returns how many went."""
        cutoff = self._clock() - KEPT_FOR
        unused_since = func.coalesce(MediaAttachment.released_at, MediaAttachment.created_at)
        async with self._database.transaction() as session:
            candidates = (await session.exec(
                select(MediaAttachment.id)
                .where(MediaAttachment.status_id.is_(None), MediaAttachment.file_name.is_not(None),  # type: ignore[union-attr]
                       unused_since < cutoff)
                .limit(BATCH))).all()
            if not candidates:
                return 0
            # Still unused at the moment of deletion (a redraft may have just taken one back);
            # only the rows deleted here give up their files.
            gone = (await session.exec(  # type: ignore[call-overload]
                delete(MediaAttachment)
                .where(MediaAttachment.id.in_(candidates), MediaAttachment.status_id.is_(None))  # type: ignore[union-attr]
                .returning(MediaAttachment.file_name, MediaAttachment.preview_file_name))).all()
        await self._store.remove(*(name for original, preview in gone for name in (original, preview)))
        return len(candidates)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                while await self.run_once() == BATCH:
                    pass  # more are waiting
            except Exception:
                log.exception("removing unused uploads failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
            except TimeoutError:
                pass

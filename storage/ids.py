"""Time-sortable ids, as Mastodon makes them: milliseconds since the epoch << 16 | sequence.

Ids are 63-bit integers in the database and decimal strings in the client API, so sorting
either sorts by creation time. Within one millisecond a process counts up from a random
start, which keeps ids from different processes apart with high probability; the primary
key constraint catches the rare clash.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import UTC, datetime

SEQUENCE_BITS = 16
SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1


class IdGenerator:
    def __init__(self, clock=time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = 0
        self._sequence = 0

    def __call__(self) -> int:
        with self._lock:
            now_ms = int(self._clock() * 1000)
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._sequence = secrets.randbelow(1 << (SEQUENCE_BITS - 1))
            else:
                # Same millisecond (or the clock stepped back): count on, borrowing the
                # next millisecond when the sequence is used up, so ids never repeat.
                self._sequence += 1
                if self._sequence > SEQUENCE_MASK:
                    self._last_ms += 1
                    self._sequence = 0
            return (self._last_ms << SEQUENCE_BITS) | self._sequence


new_id = IdGenerator()


def id_for_time(moment: datetime) -> int:
    """The smallest id that could have been made at `moment` (for paging by date)."""
    return int(moment.timestamp() * 1000) << SEQUENCE_BITS


def time_of_id(value: int) -> datetime:
    return datetime.fromtimestamp((value >> SEQUENCE_BITS) / 1000, tz=UTC)

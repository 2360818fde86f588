"""Waiting, in an async test, for something a real process or worker does in its own time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def within(seconds: float, check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Return once `check()` is true; fail naming `what` after `seconds` (a generous bound, not a speed)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")

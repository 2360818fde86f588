"""Fixtures of the security suite: three instances on one adjustable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.security.wire import Clock
from tests.support.network import federation_of

MAYO, INOVA, RADBOUD = "mayo.test", "inova.test", "radboud.test"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def network(new_database_url: Callable[[], str], clock: Clock) -> AsyncIterator[tuple[list[Any], Callable]]:
    """mayo (receiver, with ann), inova (dr_bo, staff) and radboud (dee, staff)."""
    async with federation_of([MAYO, INOVA, RADBOUD], new_database_url, clock=clock) as (nodes, drain):
        mayo, inova, radboud = nodes
        await mayo.account("ann", role="staff")
        await inova.account("dr_bo", role="staff")
        await radboud.account("dee", role="staff")
        yield nodes, drain

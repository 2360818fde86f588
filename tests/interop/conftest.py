"""Fixtures of the interop suite: one real `rounds serve` and one Fedify peer, both on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.interop.peer import CAVAGE, RFC9421, FedifyPeer, ensure_fedify
from tests.support.processes import Instance, running_instances


@pytest.fixture
def first_knock() -> str:
    """The signature scheme Fedify tries first: RFC 9421, or ROUNDS_INTEROP_FIRST_KNOCK to run the
    whole suite with another (`draft-cavage-http-signatures-12`); tests parametrize it to force each."""
    knock = os.environ.get("ROUNDS_INTEROP_FIRST_KNOCK", RFC9421)
    assert knock in (RFC9421, CAVAGE), f"ROUNDS_INTEROP_FIRST_KNOCK must be {RFC9421} or {CAVAGE}, not {knock!r}"
    return knock


@pytest.fixture
def peer(first_knock: str, tmp_path) -> Iterator[FedifyPeer]:
    ensure_fedify()
    folder = tmp_path / "fedify"
    folder.mkdir()
    started = FedifyPeer(folder, first_knock=first_knock)
    try:
        started.start()
        yield started
        # The peer's inbox listeners and control actions print what went wrong there.
        assert "Error" not in started.log(), started.log()
    finally:
        started.stop()


@pytest.fixture
def rounds(peer: FedifyPeer, new_database_url, tmp_path) -> Iterator[Instance]:
    with running_instances(["mayo"], new_database_url, tmp_path, ROUNDS_ALLOW_PRIVATE_ADDRESSES="true") as started:
        yield started[0]
        # Whatever Rounds took from Fedify, its workers handled without an exception.
        assert "Traceback" not in started[0].read_log(), started[0].read_log()


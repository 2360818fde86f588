"""The load generator: prepared HTTP/1.1 requests, `IN_FLIGHT` at a time over kept-alive
connections, each timed from its first byte sent to its last byte read.

Written on asyncio streams rather than httpx: httpx spends about 3 ms of CPU per request here
(`python -m bench` once measured 276 req/s against a bare Starlette endpoint), so on two cores
it, not the server, set the pace of every figure. This speaks just what the benchmark's own
servers answer (a status line, headers, a body sized by `Content-Length` or chunked) and costs
a small fraction of that. Every request goes out whole; the URLs may name several hosts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

IN_FLIGHT = 64
TIMEOUT = 60.0

Request = tuple[str, str, dict[str, str], bytes | None]  # method, URL, headers, body


@dataclass
class Load:
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]  # status code → how many; 0 for no answer (connection failed or cut)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def encode(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[tuple[str, int], bytes]:
    """Where the request goes, and its bytes on the wire."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() not in ("host", "content-length")]
    if body is not None or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body or b'')}")
    return (parts.hostname or "127.0.0.1", parts.port or 80), ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one whole response; its status and whether the connection may carry another."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed before answering")
    status = int(status_line.split(b" ", 2)[1])
    length, chunked, keep = 0, False, True
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            keep = value != b"close"
    if chunked:
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    elif length:
        await reader.readexactly(length)
    return status, keep


async def _drive(requests: list[Request]) -> Load:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    prepared: Iterator[tuple[tuple[str, int], bytes]] = iter([encode(*request) for request in requests])

    async def worker() -> None:
        connections: dict[tuple[str, int], tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        try:
            for address, data in prepared:
                started = time.perf_counter()
                try:
                    if address not in connections:
                        connections[address] = await asyncio.wait_for(asyncio.open_connection(*address), TIMEOUT)
                    reader, writer = connections[address]
                    writer.write(data)
                    code, keep = await asyncio.wait_for(_answer(reader), TIMEOUT)
                except (OSError, ConnectionError, ValueError, IndexError, asyncio.IncompleteReadError, TimeoutError):
                    code, keep = 0, False
                latencies.append(time.perf_counter() - started)
                statuses[code] = statuses.get(code, 0) + 1
                if not keep and address in connections:
                    connections.pop(address)[1].close()
        finally:
            for _reader, writer in connections.values():
                writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return Load(time.perf_counter() - began, latencies, statuses)


def drive(requests: list[Request]) -> Load:
    """Send every request, `IN_FLIGHT` at a time; what came back and how long each took."""
    return asyncio.run(_drive(requests))

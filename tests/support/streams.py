"""Streaming clients for tests: an app served on a loopback port by a real uvicorn, and readers
of server-sent events and WebSocket messages that wait with timeouts (never sleep)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
import websockets

from tests.support.processes import free_port

WAIT = 10.0


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # the test runner keeps its own signal handlers
        yield


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` (its lifespan already running) on 127.0.0.1; yields the base URL."""
    port = free_port()
    server = _QuietServer(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                                         timeout_graceful_shutdown=2))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


@dataclass
class Event:
    event: str
    data: str

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class EventSource:
    """One SSE stream, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.comments: list[str] = []
        self._lines = response.aiter_lines()

    async def next(self, seconds: float = WAIT) -> Event:
        return await asyncio.wait_for(self._next(), seconds)

    async def _next(self) -> Event:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line.startswith(":"):
                self.comments.append(line)
                continue
            if not line:
                if fields:
                    return Event(fields["event"], fields["data"])
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        raise EOFError("the stream ended")

    async def until(self, wanted: str, seconds: float = WAIT) -> Event:
        """The next event named `wanted`, skipping others."""
        async with asyncio.timeout(seconds):
            while True:
                event = await self._next()
                if event.event == wanted:
                    return event

    async def ended(self, seconds: float = WAIT) -> bool:
        """Wait for the server to end the stream; True once it has."""
        async with asyncio.timeout(seconds):
            try:
                while True:
                    await self._next()
            except (EOFError, httpx.RemoteProtocolError, httpx.ReadError):
                return True


@contextlib.asynccontextmanager
async def event_source(base_url: str, path: str, token: str | None, **params: str) -> AsyncIterator[EventSource]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(WAIT, read=None)) as client:
        async with client.stream("GET", path, headers=headers, params=params) as response:
            assert response.status_code == 200, (await response.aread()).decode()
            source = EventSource(response)
            yield source


class Socket:
    """One WebSocket connection to `/api/v1/streaming`."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection

    async def send(self, **message: Any) -> None:
        await self.connection.send(json.dumps(message))

    async def next(self, seconds: float = WAIT) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.connection.recv(), seconds))

    async def until(self, event: str, seconds: float = WAIT) -> dict[str, Any]:
        async with asyncio.timeout(seconds):
            while True:
                message = json.loads(await self.connection.recv())
                if message.get("event") == event:
                    return message


@contextlib.asynccontextmanager
async def socket(base_url: str, token: str | None = None, *, protocol_token: str | None = None,
                 query: str = "") -> AsyncIterator[Socket]:
    url = base_url.replace("http://", "ws://", 1) + "/api/v1/streaming" + (f"?{query}" if query else "")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with websockets.connect(url, additional_headers=headers, open_timeout=WAIT,
                                  subprotocols=[protocol_token] if protocol_token else None) as connection:
        yield Socket(connection)

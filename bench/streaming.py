"""Workload 5, streaming: from a signed inbox delivery to its event on every connected stream.

Local accounts follow one remote actor (served by `bench.peer`) and each holds the `user`
stream open over SSE, as Mastodon apps do. The benchmark posts a public `Create(Note)` by
that actor to the shared inbox and times, on every stream, the arrival of the `update` event
that carries it: the inbox accepting it, the worker applying it, and the streaming side
rendering it once per viewer (each viewer's home query narrowed to the status, since blocks,
mutes and filters differ). The baseline is the same delivery with one stream open.

The streams are read by this process (asyncio, one task per stream); its own time to parse
a thousand events is part of the figure, and small beside the server's.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.urls import LocalUrls
from bench.peer import actor_uri
from bench.seed import make_readers
from federation.httpsig import sign_cavage
from storage.engine import Database
from storage.ids import new_id
from storage.tables import Follow

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
EVENTS = 5  # deliveries timed at each number of streams
ARRIVAL_TIMEOUT = 120.0


@dataclass
class Arrivals:
    """Seconds from each delivery's POST to its event on each stream (one list per delivery)."""

    per_delivery: list[list[float]]
    missing: int

    @property
    def all(self) -> list[float]:
        return sorted(seconds for arrivals in self.per_delivery for seconds in arrivals)

    def percentile(self, share: float) -> float:
        ordered = self.all
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")

    @property
    def last(self) -> float:
        """Median over the deliveries of the time to the last stream, in ms."""
        lasts = sorted(max(arrivals) for arrivals in self.per_delivery if arrivals)
        return lasts[len(lasts) // 2] * 1000 if lasts else float("nan")


def public_create(key: rsa.RSAPrivateKey, actor: str, inbox: str, number: int) -> tuple[str, dict[str, str], bytes]:
    """A signed public Create(Note) by `actor`, for the shared inbox; returns its note id too."""
    note_id = f"{actor}/notes/stream-{number}"
    now = datetime.now(UTC)
    note = {"id": note_id, "type": "Note", "attributedTo": actor, "to": [PUBLIC], "cc": [f"{actor}/followers"],
            "content": f"<p>Streaming check {number}: the pharmacy opens at seven tomorrow.</p>",
            "published": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": f"{note_id}/activity",
                       "type": "Create", "actor": actor, "to": [PUBLIC], "cc": [f"{actor}/followers"],
                       "object": note}).encode()
    headers = sign_cavage(method="POST", url=inbox, body=body, key_id=f"{actor}#main-key", private_key=key, now=now)
    headers["Content-Type"] = "application/activity+json"
    return note_id, headers, body


async def follow_all(database_url: str, follower_ids: list[int], followee_uri: str) -> None:
    """Accepted follows of the remote actor (already stored) by each of the listeners."""
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            followee_id = (await session.execute(sa.text("SELECT id FROM actors WHERE uri = :uri"),
                                                 {"uri": followee_uri})).scalar_one()
            for follower_id in follower_ids:
                session.add(Follow(id=new_id(), follower_id=follower_id, followee_id=followee_id, state="accepted"))
    finally:
        await database.dispose()


async def _time_deliveries(base_url: str, tokens: list[str], deliveries: list[tuple[str, dict[str, str], bytes]],
                           progress: bool) -> Arrivals:
    opened = asyncio.Semaphore(0)
    waiting: dict[str, tuple[float, list[float], asyncio.Event]] = {}
    limits = httpx.Limits(max_connections=len(tokens) + 8, max_keepalive_connections=8)
    timeout = httpx.Timeout(30, read=None)
    stop = asyncio.Event()

    async def listen(client: httpx.AsyncClient, token: str) -> None:
        url = f"{base_url}/api/v1/streaming/user"
        async with client.stream("GET", url, headers={"Authorization": f"Bearer {token}"}) as response:
            response.raise_for_status()
            event = ""
            async for line in response.aiter_lines():
                if line == ":)":
                    opened.release()
                elif line.startswith("event: "):
                    event = line[len("event: "):]
                elif line.startswith("data: ") and event == "update":
                    arrived = time.perf_counter()
                    uri = json.loads(line[len("data: "):]).get("uri")
                    if uri in waiting:
                        sent, arrivals, all_in = waiting[uri]
                        arrivals.append(arrived - sent)
                        if len(arrivals) == len(tokens):
                            all_in.set()
                if stop.is_set():
                    return

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        listeners = [asyncio.create_task(listen(client, token)) for token in tokens]
        try:
            for _ in tokens:
                await asyncio.wait_for(opened.acquire(), ARRIVAL_TIMEOUT)
            per_delivery, missing = [], 0
            for number, (note_id, headers, body) in enumerate(deliveries, 1):
                all_in = asyncio.Event()
                arrivals: list[float] = []
                waiting[note_id] = (time.perf_counter(), arrivals, all_in)
                answer = await client.post(f"{base_url}/inbox", headers=headers, content=body)
                if answer.status_code != 202:
                    raise SystemExit(f"bench: the inbox answered {answer.status_code}: {answer.text[:200]}")
                try:
                    await asyncio.wait_for(all_in.wait(), ARRIVAL_TIMEOUT)
                except TimeoutError:
                    missing += len(tokens) - len(arrivals)
                per_delivery.append(list(arrivals))
                if progress:
                    print(f"   delivery {number}/{len(deliveries)}: on {len(arrivals)} of {len(tokens)} streams, "
                          f"the last after {max(arrivals, default=float('nan')) * 1000:,.0f} ms", flush=True)
            return Arrivals(per_delivery, missing)
        finally:
            stop.set()
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)


def time_deliveries(base_url: str, tokens: list[str], deliveries: list[tuple[str, dict[str, str], bytes]],
                    progress: bool = True) -> Arrivals:
    return asyncio.run(_time_deliveries(base_url, tokens, deliveries, progress))


def prepare_listeners(database_url: str, base_url: str, count: int, followee_uri: str) -> list[str]:
    """`count` local accounts following `followee_uri`; their access tokens."""
    readers = asyncio.run(make_readers(database_url, LocalUrls(base_url), "listener", count))
    asyncio.run(follow_all(database_url, [actor_id for actor_id, _token in readers], followee_uri))
    return [token for _actor_id, token in readers]


def deliveries_by(key: rsa.RSAPrivateKey, actor: str, inbox: str, first: int,
                  count: int) -> list[tuple[str, dict[str, str], bytes]]:
    return [public_create(key, actor, inbox, number) for number in range(first, first + count)]


def followed_actor(peer_port: int, domains: int) -> str:
    """The remote actor every listener follows: the peer's first, on its first host."""
    return actor_uri(peer_port, domains, 0)

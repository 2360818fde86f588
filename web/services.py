"""The federation services one process runs, built at start from the app context.

Built in `create_app`'s lifespan (the instance actor's key must be read from the
database), closed when the app stops. The HTTP client is a seam: tests pass one whose
transport routes hosts to in-process apps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from sqlmodel import select

from actors.poll_endings import PollEndings
from actors.remote import RemoteActors
from federation.fetch import Fetcher, make_client
from federation.httpsig import sign_cavage
from inbox.accept import InboxStore
from inbox.context import HandlerContext
from inbox.process import InboxWorker
from moderation.blocklist_schedule import BlocklistRefresher
from moderation.policy import DomainPolicy
from moderation.suspension import SuspensionPurges
from outbox.actions import Outbox
from outbox.delivery import DeliveryWorker, HostRevivals
from storage.tables import Actor, LocalKey
from web import __version__
from web.context import AppContext
from web.media import MediaStore
from web.media_cleanup import MediaCleanup


def user_agent(ctx: AppContext) -> str:
    return f"Rounds/{__version__} (+{ctx.urls.base_url}/)"


@dataclass
class Federation:
    client: httpx.AsyncClient
    fetcher: Fetcher
    actors: RemoteActors
    outbox: Outbox
    policy: DomainPolicy
    inbox_worker: InboxWorker
    delivery_worker: DeliveryWorker
    inbox_store: InboxStore
    revivals: HostRevivals
    poll_endings: PollEndings
    media_cleanup: MediaCleanup
    blocklists: BlocklistRefresher
    purges: SuspensionPurges
    clock: Callable[[], datetime]
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def start_workers(self) -> None:
        self._stop.clear()
        self._tasks = [asyncio.create_task(self.inbox_worker.run(self._stop)),
                       asyncio.create_task(self.delivery_worker.run(self._stop)),
                       asyncio.create_task(self.poll_endings.run(self._stop)),
                       asyncio.create_task(self.media_cleanup.run(self._stop)),
                       asyncio.create_task(self.blocklists.run(self._stop)),
                       asyncio.create_task(self.purges.run(self._stop))]

    async def stop_workers(self) -> None:
        self._stop.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self._tasks = []


async def build_federation(ctx: AppContext, client: httpx.AsyncClient | None = None,
                           clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Federation:
    client = client or make_client(allow_private_addresses=ctx.settings.allow_private_addresses,
                                   user_agent=user_agent(ctx))
    async with ctx.database.session() as session:
        row = (await session.exec(
            select(Actor, LocalKey).join(LocalKey, LocalKey.actor_id == Actor.id)
            .where(Actor.uri == ctx.urls.instance_actor))).first()
    if row is None:
        raise RuntimeError("the instance actor is missing: run `rounds init`")
    instance, sealed = row
    instance_key = ctx.keyring.open(instance.id, sealed.private_key_encrypted)
    assert instance.key_id is not None

    def sign(method: str, url: str) -> dict[str, str]:
        return sign_cavage(method=method, url=url, body=None, key_id=instance.key_id,
                           private_key=instance_key, now=clock())

    fetcher = Fetcher(client, sign=sign)
    # Blocks and allows are read from the database and cached a few seconds (moderation.policy).
    policy = DomainPolicy(mode=ctx.settings.federation_mode, network=ctx.network)
    actors = RemoteActors(ctx.database, fetcher, ctx.urls, clock=clock, policy=policy)
    delivery_worker = DeliveryWorker(ctx.database, ctx.keyring, client, clock=clock)
    outbox = Outbox(urls=ctx.urls, policy=policy, queued=delivery_worker.notify)
    handler_context = HandlerContext(urls=ctx.urls, actors=actors, fetcher=fetcher, replies=outbox,
                                     clock=clock, network=ctx.network)
    return Federation(
        client=client, fetcher=fetcher, actors=actors, outbox=outbox, policy=policy,
        inbox_worker=InboxWorker(ctx.database, handler_context),
        delivery_worker=delivery_worker,
        inbox_store=InboxStore(ctx.database),
        revivals=HostRevivals(ctx.database),
        poll_endings=PollEndings(ctx.database, clock=clock),
        media_cleanup=MediaCleanup(ctx.database, MediaStore(ctx.settings.media_dir, ctx.urls.base_url), clock=clock),
        blocklists=BlocklistRefresher(ctx.database, fetcher, every=ctx.settings.blocklist_refresh,
                                      own_domain=ctx.urls.domain, network=ctx.network, clock=clock),
        purges=SuspensionPurges(ctx.database),
        clock=clock,
    )

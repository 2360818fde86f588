"""Several real app instances in one process, wired by an httpx transport that routes by host.

Each instance has its own database on the test's engine. Workers do not run by
themselves: `drain()` runs inbox processing and deliveries on every instance until none
has anything left, so flow tests are deterministic and never sleep.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from starlette.applications import Starlette

from actors.accounts import LocalAccount, create_local_account, ensure_instance_actor, find_local_account
from storage.tables import Actor
from web.app import create_app
from web.context import AppContext
from web.services import Federation
from web.settings import Settings

SECRET = "flow-secret-" + "q" * 40


class HostRouter(httpx.AsyncBaseTransport):
    """Sends each request to the in-process app serving its host; unknown hosts fail to connect."""

    def __init__(self) -> None:
        self.apps: dict[str, Starlette] = {}
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.netloc.decode("ascii")
        app = self.apps.get(host)
        self.requests.append(request)
        if app is None:
            raise httpx.ConnectError(f"no instance at {host}", request=request)
        return await httpx.ASGITransport(app=app).handle_async_request(request)


@dataclass
class Node:
    domain: str
    app: Starlette
    client: httpx.AsyncClient  # speaks to this node as a browser or remote server would

    @property
    def ctx(self) -> AppContext:
        return self.app.state.ctx

    @property
    def federation(self) -> Federation:
        return self.app.state.federation

    async def account(self, username: str, role: str = "member") -> LocalAccount:
        async with self.ctx.database.transaction() as session:
            return await create_local_account(
                session, self.ctx.keyring, self.ctx.urls, username=username,
                email=f"{username}@{self.domain}", password="correct horse battery", role=role)

    async def local(self, username: str) -> Actor:
        async with self.ctx.database.session() as session:
            found = await find_local_account(session, username)
        assert found is not None
        return found.actor

    async def remote(self, uri: str) -> Actor:
        """The actor at `uri` as this node knows it (fetched over the router when new)."""
        return await self.federation.actors.resolve(uri)


@contextlib.asynccontextmanager
async def federation_of(domains: list[str], new_database_url: Callable[[], str], *,
                        clock: Callable[[], datetime] | None = None,
                        node_settings: dict[str, dict[str, object]] | None = None,
                        **settings: object) -> AsyncIterator[tuple[list[Node], Callable]]:
    """`settings` apply to every node; `node_settings[domain]` adds or overrides for one node."""
    router = HostRouter()
    shared_client = httpx.AsyncClient(transport=router, timeout=10)
    nodes = []
    async with contextlib.AsyncExitStack() as stack:
        for domain in domains:
            values = ({"domain": domain, "database_url": new_database_url(), "secret_key": SECRET} | settings
                      | (node_settings or {}).get(domain, {}))
            app = create_app(Settings(**values), http_client=shared_client, run_workers=False,  # type: ignore[arg-type]
                             clock=clock)
            ctx: AppContext = app.state.ctx
            async with ctx.database.transaction() as session:
                await ensure_instance_actor(session, ctx.keyring, ctx.urls)
            await stack.enter_async_context(app.router.lifespan_context(app))
            stack.push_async_callback(ctx.database.dispose)
            router.apps[domain] = app
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"https://{domain}")
            stack.push_async_callback(client.aclose)
            nodes.append(Node(domain=domain, app=app, client=client))
        stack.push_async_callback(shared_client.aclose)

        async def drain(rounds: int = 20) -> None:
            for _ in range(rounds):
                worked = 0
                for node in nodes:
                    worked += await node.federation.inbox_worker.run_once()
                    worked += await node.federation.delivery_worker.run_once()
                if not worked:
                    return
            raise AssertionError("the instances kept working after 20 rounds")

        yield nodes, drain

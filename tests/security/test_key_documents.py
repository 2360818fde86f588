"""The key behind a signature: the document that lends it must name it, and be the actor it
claims (checklist A11, B10 for key fetches).

The peer is a hostile Starlette app reached over httpx's ASGI transport as the instance's
outbound client; it serves actor documents whose key, owner or id is not what they should be.
"""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import ensure_instance_actor
from federation.keys import generate_rsa_key, public_key_pem
from storage.engine import Database
from tests.conftest import make_settings
from tests.security.wire import AS, assert_refused, cavage, changed, create, row_counts
from web.app import create_app

EVIL = "https://evil.test"
KEY = generate_rsa_key()
INBOX = "https://mayo.test/inbox"


def _actor(name: str, *, id_: str | None = None, key_id: str | None = None, owner: str | None = None) -> dict:
    uri = f"{EVIL}/users/{name}"
    return {"@context": AS, "id": id_ or uri, "type": "Person", "preferredUsername": name,
            "inbox": f"{uri}/inbox", "outbox": f"{uri}/outbox", "followers": f"{uri}/followers",
            "publicKey": {"id": key_id or f"{uri}#main-key", "owner": owner or uri,
                          "publicKeyPem": public_key_pem(KEY)}}


DOCUMENTS = {
    "mallory": _actor("mallory"),  # the control: a well-formed actor
    "liar": _actor("liar", key_id=f"{EVIL}/users/mallory#main-key"),  # lends another actor's key id
    "thief": _actor("thief", owner="https://inova.test/users/dr_bo"),  # a key owned by someone else
    "stranger": _actor("stranger", key_id="https://inova.test/users/dr_bo#main-key"),  # a key on another host
    "renamed": _actor("renamed", id_=f"{EVIL}/users/someone-else"),  # a document naming another URL
}


async def actor(request: Request) -> Response:
    document = DOCUMENTS.get(request.path_params["name"])
    if document is None:
        return Response(status_code=404)
    return Response(json.dumps(document), media_type="application/activity+json")


@pytest.fixture
async def instance(database_url):
    peer = Starlette(routes=[Route("/users/{name}", actor)])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=peer))
    settings = make_settings(database_url)
    database = Database(settings.database_url)
    app = create_app(settings, database=database, http_client=client, run_workers=False)
    ctx = app.state.ctx
    async with ctx.database.transaction() as session:
        await ensure_instance_actor(session, ctx.keyring, ctx.urls)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as http:
            yield app, http
    await client.aclose()
    await database.dispose()


class _Node:
    def __init__(self, app: Starlette) -> None:
        self.ctx = app.state.ctx


async def _deliver(app, http, name: str, key_id: str | None = None) -> tuple[httpx.Response, dict]:
    uri = f"{EVIL}/users/{name}"
    body = create(uri, f"{uri}/statuses/1")
    headers = cavage(key=KEY, key_id=key_id or f"{uri}#main-key", url=INBOX, body=body,
                     now=app.state.federation.clock())
    before = await row_counts(_Node(app))
    response = await http.post("/inbox", content=body, headers=headers)
    return response, changed(before, await row_counts(_Node(app)))


async def test_a_well_formed_actor_document_lends_its_key(instance):
    app, http = instance
    response, stored = await _deliver(app, http, "mallory")
    assert response.status_code == 202
    assert stored == {"actors": (1, 2), "inbox_items": (0, 1)}


@pytest.mark.parametrize("name", ["liar", "thief", "stranger", "renamed"])
async def test_a_key_the_document_does_not_rightly_lend_is_refused_and_nothing_is_stored(instance, name):
    app, http = instance
    response, stored = await _deliver(app, http, name)
    assert_refused(response, 401)
    assert stored == {}

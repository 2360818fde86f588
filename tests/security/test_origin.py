"""Origin and ownership: an object is believed only from its own host, by its own author
(checklist B1, B2, B4, B5, B6, B7, B9, B10, B12; F6).

Inbox cases go through the public route with real signatures and are judged by what the
receiving instance holds after its worker ran. Fetch cases run `Fetcher` against a real
Starlette app over httpx's ASGI transport.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from federation.documents import DocumentError, host_of, same_origin
from federation.fetch import Fetcher, FetchRefused
from moderation.domains import normalize_domain
from moderation.policy import host_of_domain
from storage.tables import Follow, Notification, Tombstone
from tests.security.conftest import INOVA, MAYO, RADBOUD
from tests.security.wire import PUBLIC, activity, changed, create, deliver, note, row_counts, signed_by
from tests.support.actions import follow, follow_state, post, status_on

BO = f"https://{INOVA}/users/dr_bo"
CAROL = f"https://{INOVA}/users/carol"
DEE = f"https://{RADBOUD}/users/dee"
ANN = f"https://{MAYO}/users/ann"
INBOX = f"https://{MAYO}/inbox"


async def send(receiver, sender, username, body: bytes) -> int:
    return (await deliver(receiver, INBOX, body, await signed_by(sender, username, INBOX, body))).status_code


# --- host parsing (B12) -------------------------------------------------------------------------

@pytest.mark.parametrize("uri", [
    "https://good.test@evil.test/users/x",  # userinfo: the host is evil.test
    "https://good.test:pw@evil.test/",
    "https://evil.test\\@good.test/",
    "https://good.test%2F@evil.test/",
    "https://good.test\\evil.test/",  # a browser reads the host as good.test; httpx as the whole
    "https://good.test%00.evil.test/",
    "https://good.test:99999/",
    "javascript://good.test/%0aalert(1)",
    "file://good.test/etc/passwd",
    "//good.test/users/x",
    "good.test/users/x",
    "https:///users/x",
])
def test_host_tricks_are_refused(uri):
    with pytest.raises(DocumentError):
        host_of(uri)
    assert not same_origin(uri, "https://good.test/users/x")


@pytest.mark.parametrize("first, second", [
    ("https://GOOD.test/a", "https://good.test/b"),
    ("https://good.test./a", "https://good.test/b"),
    ("https://bücher.test/a", "https://xn--bcher-kva.test/b"),  # IDN and its punycode
    ("https://BÜCHER.test/a", "https://bücher.test/b"),
    ("https://ｇｏｏｄ.test/a", "https://good.test/b"),  # full-width letters map to ASCII (UTS #46)
    ("https://a.test。evil/a", "https://a.test.evil/b"),  # an ideographic full stop is a dot
])
def test_spellings_of_one_host_are_one_origin(first, second):
    assert host_of(first) == host_of(second) and same_origin(first, second)
    assert host_of(first).isascii()


@pytest.mark.parametrize("first, second", [
    ("https://mastodon.so/cial/users/x", "https://mastodon.social/users/x"),  # CVE-2023-42451
    ("https://good.test.evil.test/", "https://good.test/"),
    ("https://evil.test/good.test", "https://good.test/"),
    ("https://good.test:8443/", "https://good.test/"),
    ("https://good.test#@evil.test", "https://evil.test/"),
])
def test_look_alike_hosts_are_other_origins(first, second):
    assert not same_origin(first, second)


@pytest.mark.parametrize("entered", ["bücher.test", "BÜCHER.test.", "ｂüｃｈｅｒ.test"])
def test_a_domain_block_names_hosts_as_origin_checks_do(entered):
    assert normalize_domain(entered) == host_of("https://bücher.test/") == "xn--bcher-kva.test"
    assert host_of_domain(entered) == "xn--bcher-kva.test"


def test_host_is_the_one_httpx_connects_to():
    for uri in ("https://bücher.test/x", "https://a.test。evil/x", "https://GOOD.Test./x"):
        assert host_of(uri) == httpx.URL(uri).raw_host.decode("ascii").rstrip(".")


# --- through the inbox ----------------------------------------------------------------------------

@pytest.fixture
async def carol_followed(network):
    """ann (mayo) follows carol (inova); carol has a followers-only post that mayo holds."""
    (mayo, inova, radboud), drain = network
    await inova.account("carol", role="staff")
    await follow(mayo, "ann", CAROL)
    await drain()
    status = await post(inova, "carol", "Ward 4 rota", "private")
    await drain()
    assert (await status_on(mayo, status.uri)).visibility == "private"
    return network, status


async def test_create_of_an_object_on_another_host_or_claiming_a_local_user_stores_nothing(carol_followed):
    ((mayo, inova, radboud), drain), _ = carol_followed
    before = await row_counts(mayo)
    spoofs = [
        create(CAROL, f"https://{RADBOUD}/users/dee/statuses/1"),  # B1
        create(CAROL, f"{CAROL}/statuses/5", attributedTo=ANN),  # B4
        create(CAROL, f"https://{MAYO}/users/ann/statuses/5", attributedTo=ANN),  # B4: a local id
        create(CAROL, f"{CAROL}/statuses/6", attributedTo=BO),  # B3: another author on the same host
    ]
    accepted = 0
    for body in spoofs:
        status = await send(mayo, inova, "carol", body)
        assert status in (202, 400)  # 400: the activity's own id is on another host than its actor
        accepted += status == 202
    await drain()
    after = await row_counts(mayo)
    assert accepted >= 2
    assert changed(before, after) == {"inbox_items": (before["inbox_items"], before["inbox_items"] + accepted)}


async def test_reused_object_id_with_a_wider_audience_changes_nothing(carol_followed):
    # CVE-2024-37903: a Create naming someone else's existing post, addressed to the world.
    ((mayo, inova, radboud), drain), status = carol_followed
    reuse = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": f"{BO}#create/1",
                        "type": "Create", "actor": BO, "to": [PUBLIC, ANN],
                        "object": note(BO, status.uri, "rewritten", to=[PUBLIC, ANN])}).encode()
    async with mayo.ctx.database.session() as session:
        notifications = (await session.exec(select(func.count()).select_from(Notification))).one()
    assert await send(mayo, inova, "dr_bo", reuse) == 202
    await drain()
    kept = await status_on(mayo, status.uri)
    assert kept.visibility == "private" and kept.content == "<p>Ward 4 rota</p>"
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Notification))).one() == notifications


async def test_update_of_someone_elses_post_changes_nothing(carol_followed):
    ((mayo, inova, radboud), drain), status = carol_followed
    for sender, username, actor in ((inova, "dr_bo", BO), (radboud, "dee", DEE)):
        forged = activity(id=f"{actor}#update/1", type="Update", actor=actor,
                          object=note(actor, status.uri, "rewritten", to=[PUBLIC]))
        assert await send(mayo, sender, username, forged) == 202
        by_author = activity(id=f"{actor}#update/2", type="Update", actor=actor,
                             object=note(CAROL, status.uri, "rewritten", to=[PUBLIC]))
        assert await send(mayo, sender, username, by_author) == 202
    await drain()
    kept = await status_on(mayo, status.uri)
    assert kept.content == "<p>Ward 4 rota</p>" and kept.visibility == "private" and kept.edited_at is None


async def test_delete_of_someone_elses_post_changes_nothing(carol_followed):
    ((mayo, inova, radboud), drain), status = carol_followed
    for sender, username, actor in ((inova, "dr_bo", BO), (radboud, "dee", DEE)):
        forged = activity(id=f"{actor}#delete/1", type="Delete", actor=actor,
                          object={"id": status.uri, "type": "Tombstone"})
        assert await send(mayo, sender, username, forged) == 202
    await drain()
    kept = await status_on(mayo, status.uri)
    assert kept.deleted_at is None and kept.content == "<p>Ward 4 rota</p>"


async def test_refused_delete_leaves_no_tombstone(carol_followed):
    ((mayo, inova, radboud), drain), status = carol_followed
    forged = activity(id=f"{BO}#delete/1", type="Delete", actor=BO, object={"id": status.uri, "type": "Tombstone"})
    assert await send(mayo, inova, "dr_bo", forged) == 202
    await drain()
    async with mayo.ctx.database.session() as session:
        assert await session.get(Tombstone, status.uri) is None


async def test_delete_sent_ahead_by_another_actor_does_not_suppress_a_post(carol_followed):
    ((mayo, inova, radboud), drain), _ = carol_followed
    future = f"{CAROL}/statuses/999"
    ahead = activity(id=f"{BO}#delete/9", type="Delete", actor=BO, object={"id": future, "type": "Tombstone"})
    assert await send(mayo, inova, "dr_bo", ahead) == 202
    await drain()
    assert await send(mayo, inova, "carol", create(CAROL, future, text="Clinic open")) == 202
    await drain()
    assert await status_on(mayo, future) is not None


async def test_accept_or_reject_by_someone_other_than_the_followee_changes_nothing(network):
    (mayo, inova, radboud), drain = network
    lee = (await inova.account("lee")).actor  # a member: locked, follows wait for approval
    await follow(mayo, "ann", lee.uri)
    await drain()
    assert await follow_state(mayo, ANN, lee.uri) == "pending"
    async with mayo.ctx.database.session() as session:
        follow_id = (await session.exec(select(Follow.uri))).one()
    for sender, username, actor in ((inova, "dr_bo", BO), (radboud, "dee", DEE)):
        for kind in ("Accept", "Reject"):
            forged = activity(id=f"{actor}#{kind}/1", type=kind, actor=actor,
                              object={"id": follow_id, "type": "Follow", "actor": ANN, "object": lee.uri})
            assert await send(mayo, sender, username, forged) == 202
    await drain()
    assert await follow_state(mayo, ANN, lee.uri) == "pending"


async def test_undo_of_someone_elses_follow_from_the_same_host_changes_nothing(network):
    (mayo, inova, radboud), drain = network
    await inova.account("carol", role="staff")
    await follow(inova, "carol", ANN)
    await drain()
    assert await follow_state(mayo, CAROL, ANN) == "accepted"
    async with mayo.ctx.database.session() as session:
        follow_id = (await session.exec(select(Follow.uri))).one()
    for obj in (follow_id, {"id": follow_id, "type": "Follow", "actor": CAROL, "object": ANN}):
        forged = activity(id=f"{BO}#undo/{len(str(obj))}", type="Undo", actor=BO, object=obj)
        assert await send(mayo, inova, "dr_bo", forged) == 202
    await drain()
    assert await follow_state(mayo, CAROL, ANN) == "accepted"


# --- fetched documents (B9, B10) ------------------------------------------------------------------

def _peer() -> tuple[Starlette, list[str]]:
    seen: list[str] = []

    def document(request: Request, id_: str | None = None) -> dict:
        return {"@context": "https://www.w3.org/ns/activitystreams", "type": "Person",
                "id": id_ or str(request.url), "inbox": f"{request.base_url}inbox"}

    async def typed(request: Request) -> Response:
        seen.append(request.url.path)
        media = request.query_params["type"]
        return Response(json.dumps(document(request)), media_type=media)

    async def other_id(request: Request) -> Response:
        seen.append(request.url.path)
        return Response(json.dumps(document(request, request.query_params["id"])),
                        media_type="application/activity+json")

    async def away(request: Request) -> Response:
        seen.append(request.url.path)
        return RedirectResponse(request.query_params["to"], status_code=302)

    app = Starlette(routes=[Route("/typed", typed), Route("/other-id", other_id), Route("/away", away)])
    return app, seen


@pytest.fixture
async def peer():
    app, seen = _peer()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield Fetcher(client), seen


@pytest.mark.parametrize("media_type", ["application/json", "text/html", "image/png", "text/plain",
                                        "application/ld+json", 'application/ld+json; profile="https://evil"',
                                        'application/ld+json; profile="https://evil/https://www.w3.org/ns/activitystreams"',
                                        "application/activity+json-x"])
async def test_document_without_an_activitystreams_type_is_refused(peer, media_type):
    fetcher, seen = peer
    with pytest.raises(FetchRefused, match="content type"):  # the type, not the id, is what is refused
        await fetcher.fetch_activity(f"https://inova.test/typed?type={quote(media_type)}")


@pytest.mark.parametrize("media_type", [
    "application/activity+json", "Application/Activity+JSON; charset=utf-8",
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
    'application/ld+json;profile="https://www.w3.org/ns/activitystreams https://w3id.org/security/v1"',
])
async def test_document_with_an_activitystreams_type_is_read(peer, media_type):
    fetcher, _ = peer
    url = f"https://inova.test/typed?type={quote(media_type)}"
    assert (await fetcher.fetch_activity(url))["id"] == url


@pytest.mark.parametrize("claimed", ["https://mayo.test/users/ann", "https://inova.test/users/someone-else",
                                     "https://inova.test.evil/other-id", "http://inova.test/other-id",
                                     "not a url"])
async def test_document_naming_another_id_is_refused(peer, claimed):
    fetcher, _ = peer
    with pytest.raises(FetchRefused, match="id"):
        await fetcher.fetch_activity(f"https://inova.test/other-id?id={quote(claimed)}")


@pytest.mark.parametrize("to", ["https://mayo.test/users/ann", "https://evil.test/typed",
                                "http://inova.test/typed", "https://inova.test:8443/typed",
                                "https://user@inova.test/typed", "file:///etc/passwd"])
async def test_redirect_away_from_the_host_is_refused_before_asking_there(peer, to):
    fetcher, seen = peer
    with pytest.raises(FetchRefused):
        await fetcher.fetch_activity(f"https://inova.test/away?to={quote(to)}")
    assert seen == ["/away"]

"""Resource limits: what a peer sends or serves cannot make us hold or do without bound
(checklist D1, D2, D3, D4, D7).

Deliveries are signed with the sender's real key, so each body reaches the part that should
stop it; remote answers come from a real Starlette app over httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from federation.documents import MAX_ATTACHMENTS, MAX_TAGS
from federation.fetch import Fetcher, FetchRefused, FetchUnavailable
from storage.tables import MediaAttachment, Mention, PollOption, Status, StatusTag
from tests.security.conftest import INOVA, MAYO
from tests.security.wire import AS, PUBLIC, assert_refused, changed, create, deliver, note, row_counts, signed_by
from tests.support.actions import follow, status_on

BO = f"https://{INOVA}/users/dr_bo"
INBOXES = [f"https://{MAYO}/inbox", f"https://{MAYO}/users/ann/inbox"]


@pytest.fixture
async def followed(network):
    """ann follows dr_bo, so what dr_bo posts is kept at mayo."""
    (mayo, inova, radboud), drain = network
    await follow(mayo, "ann", BO)
    await drain()
    return network


async def count(node, table, *where) -> int:
    async with node.ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(table).where(*where))).one()


# --- request bodies (D1, D4) --------------------------------------------------------------------

@pytest.mark.parametrize("inbox", INBOXES)
async def test_body_over_the_limit_is_refused_with_413_declared_or_streamed(network, inbox):
    (mayo, inova, _), _ = network
    limit = mayo.ctx.settings.max_body_bytes
    body = create(BO, f"{BO}/statuses/1", text="x" * limit)
    headers = await signed_by(inova, "dr_bo", inbox, body)
    before = await row_counts(mayo)
    assert_refused(await deliver(mayo, inbox, body, headers), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(body), 65536):
            yield body[start:start + 65536]

    streamed = await mayo.client.post(inbox, content=chunks(), headers=headers)
    assert_refused(streamed, 413)
    assert changed(before, await row_counts(mayo)) == {}


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
async def test_deeply_nested_json_is_refused_with_400(network, depth):
    (mayo, inova, _), _ = network
    inbox = INBOXES[0]
    nested = b'{"id":"https://inova.test/users/dr_bo#n","type":"Create","actor":"https://inova.test/users/dr_bo",' \
             b'"object":' + b"[" * depth + b"]" * depth + b"}"
    headers = await signed_by(inova, "dr_bo", inbox, nested)
    before = await row_counts(mayo)
    assert_refused(await deliver(mayo, inbox, nested, headers), 400)
    assert changed(before, await row_counts(mayo)) == {}


# --- huge arrays in a post (D7) -----------------------------------------------------------------

async def test_huge_tag_attachment_and_poll_lists_are_cut_to_the_caps(followed):
    (mayo, inova, _), drain = followed
    tags = [{"type": "Hashtag", "name": f"#t{n}", "href": f"https://{INOVA}/tags/t{n}"} for n in range(4000)]
    tags += [{"type": "Mention", "href": f"https://{INOVA}/users/u{n}", "name": f"@u{n}"} for n in range(2000)]
    attachments = [{"type": "Document", "mediaType": "image/png", "url": f"https://{INOVA}/m/{n}.png"}
                   for n in range(1000)]
    options = [{"type": "Note", "name": f"option {n}", "replies": {"type": "Collection", "totalItems": 0}}
               for n in range(3000)]
    note_id = f"{BO}/statuses/many"
    obj = note(BO, note_id, "Many things", type="Question", tag=tags, attachment=attachments, oneOf=options,
               endTime="2099-01-01T00:00:00Z")
    body = json.dumps({"@context": AS, "id": f"{note_id}/activity", "type": "Create", "actor": BO,
                       "to": [PUBLIC], "object": obj}).encode()
    assert len(body) < mayo.ctx.settings.max_body_bytes
    headers = await signed_by(inova, "dr_bo", INBOXES[0], body)
    assert (await deliver(mayo, INBOXES[0], body, headers)).status_code == 202
    await drain()
    status = await status_on(mayo, note_id)
    assert status is not None
    assert await count(mayo, StatusTag, StatusTag.status_id == status.id) <= MAX_TAGS
    assert await count(mayo, Mention, Mention.status_id == status.id) <= MAX_TAGS
    assert await count(mayo, MediaAttachment, MediaAttachment.status_id == status.id) <= MAX_ATTACHMENTS
    assert 0 < await count(mayo, PollOption) <= 32


async def test_thousands_of_addressed_local_names_do_not_become_thousands_of_rows(followed):
    (mayo, inova, _), drain = followed
    note_id = f"{BO}/statuses/crowd"
    crowd = [f"https://{MAYO}/users/nobody{n}" for n in range(5000)]
    body = create(BO, note_id, "Hello all", to=[PUBLIC], cc=crowd)
    headers = await signed_by(inova, "dr_bo", INBOXES[0], body)
    assert (await deliver(mayo, INBOXES[0], body, headers)).status_code == 202
    await drain()
    status = await status_on(mayo, note_id)
    assert status is not None
    assert await count(mayo, Mention, Mention.status_id == status.id) <= MAX_TAGS


async def test_recipient_list_over_the_cap_is_not_kept(followed):
    (mayo, inova, _), drain = followed
    note_id = f"{BO}/statuses/spam"
    body = create(BO, note_id, "Hello", cc=[f"https://{INOVA}/users/u{n}" for n in range(10_001)])
    headers = await signed_by(inova, "dr_bo", INBOXES[0], body)
    assert (await deliver(mayo, INBOXES[0], body, headers)).status_code == 202
    await drain()
    assert await status_on(mayo, note_id) is None
    assert await count(mayo, Status) == 0


# --- remote answers (D2, D3) --------------------------------------------------------------------

MAX_BYTES = 4096


def _actor(request: Request, padding: str = "") -> bytes:
    return json.dumps({"@context": AS, "id": str(request.url), "type": "Person", "padding": padding}).encode()


async def big(request: Request) -> Response:
    return Response(_actor(request, "x" * MAX_BYTES * 4), media_type="application/activity+json")


async def lying(request: Request) -> Response:
    # A small Content-Length in front of a large body: only the bytes counted matter.
    body = _actor(request, "x" * MAX_BYTES * 4)
    return Response(body, media_type="application/activity+json", headers={"content-length": "64"})


async def endless(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"padding": "'
        while True:
            await asyncio.sleep(0.01)  # lets the deadline fire: ASGITransport runs the app in our loop
            yield b"x" * 4096
    return StreamingResponse(chunks(), media_type="application/activity+json")


async def trickle(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            await asyncio.sleep(0.1)
            yield b" "
        yield _actor(request)
    return StreamingResponse(chunks(), media_type="application/activity+json")


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    app = Starlette(routes=[Route("/big", big), Route("/lying", lying), Route("/endless", endless),
                            Route("/trickle", trickle)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield Fetcher(client, max_bytes=MAX_BYTES, total_timeout=1.0)


@pytest.mark.parametrize("path", ["/big", "/lying"])
async def test_answer_larger_than_max_bytes_is_refused(fetcher, path):
    with pytest.raises(FetchRefused, match="larger than"):
        await fetcher.fetch_activity(f"https://inova.test{path}")


async def test_answer_that_never_ends_is_cut_off(fetcher):
    # ASGITransport gathers a body before returning it; the total deadline still ends the wait.
    with pytest.raises((FetchRefused, FetchUnavailable)):
        await asyncio.wait_for(fetcher.fetch_activity("https://inova.test/endless"), timeout=10)


async def test_slow_trickle_is_cut_off_by_the_total_deadline(fetcher):
    started = asyncio.get_running_loop().time()
    with pytest.raises(FetchUnavailable, match="longer than"):
        await fetcher.fetch_activity("https://inova.test/trickle")
    assert asyncio.get_running_loop().time() - started < 5

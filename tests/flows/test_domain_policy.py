"""Domain policy across real instances: a suspended domain (and its subdomains) is refused at
every door and purged; a silenced one is limited; reject_media and reject_reports drop what it
sends; allowlist mode federates only with what is allowed. Blocks are made through the admin
API of the blocking instance and take effect at once in its process."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from federation.httpsig import sign_cavage
from storage.tables import Actor, Delivery, Follow, LocalKey, MediaAttachment, Notification, Report, Status
from tests.support.actions import create_note, follow, follow_state, post, signed_post, status_on
from tests.support.api import bearer
from tests.support.network import Node, federation_of

MAYO, INOVA, SPAM = "mayo.test", "inova.test", "social.spam.test"
ADMIN = ("read", "write", "follow", "admin:read", "admin:write")


@pytest.fixture
async def network(new_database_url):
    async with federation_of([MAYO, INOVA, SPAM], new_database_url) as (nodes, drain):
        yield nodes, drain


async def admin_token(node: Node) -> dict[str, str]:
    return await bearer(node.ctx, await node.account("ada", role="admin"), ADMIN)


async def block(node: Node, token: dict[str, str], domain: str, **form: str) -> dict:
    answer = await node.client.post("/api/v1/admin/domain_blocks", headers=token, data={"domain": domain, **form})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def count(node: Node, query) -> int:
    async with node.ctx.database.session() as session:
        return (await session.exec(query)).one()


async def signed_get(sender: Node, username: str, url: str):
    actor = await sender.local(username)
    async with sender.ctx.database.session() as session:
        sealed = await session.get(LocalKey, actor.id)
    key = sender.ctx.keyring.open(actor.id, sealed.private_key_encrypted)
    headers = sign_cavage(method="GET", url=url, body=None, key_id=actor.key_id, private_key=key,
                          now=sender.federation.clock())
    headers["Accept"] = "application/activity+json"
    return await sender.federation.client.get(url, headers=headers)


async def test_suspending_a_parent_domain_severs_purges_and_refuses_everything_from_it(network):
    (mayo, _inova, spam), drain = network
    token = await admin_token(mayo)
    ann = await mayo.account("ann", role="staff")
    bo = await spam.account("bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await follow(spam, "bo", ann.actor.uri)
    await drain()
    pills = await post(spam, "bo", "Buy miracle pills", "public")
    await drain()
    assert (await status_on(mayo, pills.uri)).content

    entry = await block(mayo, token, "spam.test", severity="suspend", private_comment="pill sellers")

    assert await follow_state(mayo, ann.actor.uri, bo.actor.uri) is None
    assert await follow_state(mayo, bo.actor.uri, ann.actor.uri) is None
    purged = await status_on(mayo, pills.uri)
    assert purged.deleted_at is not None and purged.content == ""
    # Its server delivers again: refused at the door, with the reason.
    answer = await signed_post(spam, "bo", f"https://{MAYO}/inbox",
                               create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/2", "more pills"))
    assert answer == 403
    raw = await spam.federation.client.post(f"https://{MAYO}/inbox", content=b"{}",
                                            headers={"Content-Type": "application/activity+json"})
    assert raw.status_code == 401  # unsigned: refused before the policy is even asked
    # Nothing goes to it: a post mentioning bo makes no delivery to its host.
    await post(mayo, "ann", "hello @bo", "public", mentions=(bo.actor.uri,))
    assert await count(mayo, select(func.count()).select_from(Delivery).where(
        Delivery.host == SPAM, Delivery.state != "delivered")) == 0
    # Its signed fetches are refused; search and follows through the API find nothing there.
    fetched = await signed_get(spam, "bo", ann.actor.uri)
    assert fetched.status_code == 403 and "suspended" in fetched.text
    ann_token = await bearer(mayo.ctx, ann, ("read", "write", "follow"))
    found = await mayo.client.get("/api/v2/search", headers=ann_token,
                                  params={"q": f"bo@{SPAM}", "resolve": "true", "type": "accounts"})
    assert found.status_code == 200 and found.json()["accounts"] == []
    bo_here = await mayo.remote(bo.actor.uri)
    refused = await mayo.client.post(f"/api/v1/accounts/{bo_here.id}/follow", headers=ann_token)
    assert refused.status_code == 403

    lifted = await mayo.client.delete(f"/api/v1/admin/domain_blocks/{entry['id']}", headers=token)
    assert lifted.status_code == 200
    assert (await status_on(mayo, pills.uri)).content == ""  # lifting restores nothing
    assert await signed_post(spam, "bo", f"https://{MAYO}/inbox",
                             create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/3", "hi")) == 202


async def test_a_silenced_domain_is_limited_for_people_who_do_not_follow_it(network):
    (mayo, inova, _spam), drain = network
    token = await admin_token(mayo)
    ann = await mayo.account("ann")
    cy = await mayo.account("cy", role="staff")  # unlocked
    bo = await inova.account("bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    await block(mayo, token, INOVA, severity="silence")

    note = await post(inova, "bo", "Health tips for everyone", "public", mentions=(ann.actor.uri, cy.actor.uri))
    await drain()
    assert await status_on(mayo, note.uri) is not None
    as_ann = await bearer(mayo.ctx, ann, ("read",))
    as_cy = await bearer(mayo.ctx, cy, ("read",))
    for path in ("/api/v1/timelines/public", "/api/v1/timelines/public?remote=true"):
        assert [s["uri"] for s in (await mayo.client.get(path, headers=as_ann)).json()] == [note.uri]
        assert (await mayo.client.get(path, headers=as_cy)).json() == []
        assert (await mayo.client.get(path)).json() == []
    # Mentions notify the person who follows bo, not the stranger.
    async with mayo.ctx.database.session() as session:
        notified = (await session.exec(select(Notification.recipient_id).where(
            Notification.kind == "mention"))).all()
    assert notified == [ann.actor.id]
    # bo's follow of cy (an unlocked account) waits for approval, and cy hears of the request.
    await follow(inova, "bo", cy.actor.uri)
    await drain()
    assert await follow_state(mayo, bo.actor.uri, cy.actor.uri) == "pending"
    assert await follow_state(inova, bo.actor.uri, cy.actor.uri) == "pending"
    kinds = [n["type"] for n in (await mayo.client.get("/api/v1/notifications", headers=as_cy)).json()]
    assert kinds == ["follow_request"]


async def test_a_silenced_or_suspended_single_account(network):
    (mayo, inova, _spam), drain = network
    ann = await mayo.account("ann")
    await mayo.account("cy")
    bo = await inova.account("bo", role="staff")
    eve = await inova.account("eve", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await follow(mayo, "ann", eve.actor.uri)
    await drain()
    async with mayo.ctx.database.transaction() as session:
        for uri, column in ((bo.actor.uri, "silenced_at"), (eve.actor.uri, "suspended_at")):
            actor = (await session.exec(select(Actor).where(Actor.uri == uri))).one()
            setattr(actor, column, func.now())
            session.add(actor)
    mayo.federation.policy.invalidate()  # what the account moderation does after suspending
    note = await post(inova, "bo", "silenced voice", "public")
    await drain()
    as_cy = await bearer(mayo.ctx, await mayo.account("dee"), ("read",))
    assert (await mayo.client.get("/api/v1/timelines/public", headers=as_cy)).json() == []
    as_ann = await bearer(mayo.ctx, ann, ("read",))
    assert [s["uri"] for s in (await mayo.client.get("/api/v1/timelines/public", headers=as_ann)).json()] == [
        note.uri]
    refused = await signed_post(inova, "eve", f"https://{MAYO}/inbox",
                                create_note(eve.actor.uri, f"{eve.actor.uri}/statuses/1", "hello"))
    assert refused == 403


async def test_reject_media_keeps_the_post_without_its_attachments(network):
    (mayo, inova, _spam), drain = network
    token = await admin_token(mayo)
    ann = await mayo.account("ann")
    bo = await inova.account("bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    entry = await block(mayo, token, INOVA, severity="noop", reject_media="true")
    picture = [{"type": "Document", "mediaType": "image/png", "url": f"https://{INOVA}/media/x.png"}]

    async def deliver(number: int) -> str:
        uri = f"{bo.actor.uri}/statuses/{number}"
        assert await signed_post(inova, "bo", f"https://{MAYO}/inbox",
                                 create_note(bo.actor.uri, uri, "a picture", attachment=picture)) == 202
        await drain()
        return uri

    first = await deliver(1)
    assert await status_on(mayo, first) is not None
    assert await count(mayo, select(func.count()).select_from(MediaAttachment)) == 0
    home = await mayo.client.get("/api/v1/timelines/home", headers=await bearer(mayo.ctx, ann, ("read",)))
    assert [(s["uri"], s["media_attachments"]) for s in home.json()] == [(first, [])]
    changed = await mayo.client.put(f"/api/v1/admin/domain_blocks/{entry['id']}", headers=token,
                                    json={"reject_media": False})
    assert changed.status_code == 200
    await deliver(2)
    assert await count(mayo, select(func.count()).select_from(MediaAttachment)) == 1


async def test_reject_reports_ignores_flags_from_the_domain(network):
    (mayo, inova, _spam), drain = network
    token = await admin_token(mayo)
    ann = await mayo.account("ann")
    bo = await inova.account("bo", role="staff")
    entry = await block(mayo, token, INOVA, severity="noop", reject_reports="true")

    def flag(number: int) -> bytes:
        return json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "type": "Flag",
                           "id": f"{bo.actor.uri}/flags/{number}", "actor": bo.actor.uri,
                           "object": [ann.actor.uri], "content": "rude"}).encode()

    assert await signed_post(inova, "bo", f"https://{MAYO}/inbox", flag(1)) == 202
    await drain()
    assert await count(mayo, select(func.count()).select_from(Report)) == 0
    await mayo.client.delete(f"/api/v1/admin/domain_blocks/{entry['id']}", headers=token)
    assert await signed_post(inova, "bo", f"https://{MAYO}/inbox", flag(2)) == 202
    await drain()
    assert await count(mayo, select(func.count()).select_from(Report)) == 1


async def test_allowlist_mode_federates_with_allowed_domains_only(new_database_url):
    async with federation_of([MAYO, INOVA], new_database_url,
                             node_settings={MAYO: {"federation_mode": "allowlist"}}) as ((mayo, inova), drain):
        token = await admin_token(mayo)
        ann = await mayo.account("ann")
        bo = await inova.account("bo", role="staff")
        note = create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/1", "hello", to=[ann.actor.uri])
        assert await signed_post(inova, "bo", f"https://{MAYO}/inbox", note) == 403
        allowed = await mayo.client.post("/api/v1/admin/domain_allows", headers=token, data={"domain": INOVA})
        assert allowed.status_code == 200
        assert await signed_post(inova, "bo", f"https://{MAYO}/inbox", note) == 202  # at once, in this process
        await mayo.client.delete(f"/api/v1/admin/domain_allows/{allowed.json()['id']}", headers=token)
        note = create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/2", "hello", to=[ann.actor.uri])
        assert await signed_post(inova, "bo", f"https://{MAYO}/inbox", note) == 403
        await drain()
        async with mayo.ctx.database.session() as session:
            assert (await session.exec(select(func.count()).select_from(Follow))).one() == 0
            assert (await session.exec(select(func.count()).select_from(Status))).one() == 1

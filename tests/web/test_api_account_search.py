"""`GET /api/v1/accounts/search`: the account half of `/api/v2/search`, and `following=true`."""

from __future__ import annotations

from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, follow


def usernames(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [entity["username"] for entity in answer.json()]


async def test_a_prefix_finds_local_and_known_remote_accounts_as_v2_search_does(ctx, client):
    ann = await add_account(ctx, "ann")
    await add_account(ctx, "annette")
    await add_account(ctx, "bob")
    await add_remote_actor(ctx, "anna")
    token = await bearer(ctx, ann)
    found = usernames(await client.get("/api/v1/accounts/search", params={"q": "ann"}, headers=token))
    assert found == ["ann", "annette", "anna"]
    v2 = await client.get("/api/v2/search", params={"q": "ann", "type": "accounts"}, headers=token)
    assert [entity["username"] for entity in v2.json()["accounts"]] == found
    assert usernames(await client.get("/api/v1/accounts/search", params={"q": "@ann", "limit": "1"},
                                      headers=token)) == ["ann"]
    assert usernames(await client.get("/api/v1/accounts/search", params={"q": "zed"}, headers=token)) == []


async def test_following_true_keeps_only_accounts_the_viewer_follows(ctx, client):
    ann, annette = await add_account(ctx, "ann"), await add_account(ctx, "annette")
    anita = await add_account(ctx, "anita")
    bob = await add_account(ctx, "bob")
    await follow(ctx, bob.actor, annette.actor)
    await follow(ctx, anita.actor, ann.actor)
    token = await bearer(ctx, bob)
    every = usernames(await client.get("/api/v1/accounts/search", params={"q": "an"}, headers=token))
    assert every == ["anita", "ann", "annette"]
    followed = await client.get("/api/v1/accounts/search", params={"q": "an", "following": "true"}, headers=token)
    assert usernames(followed) == ["annette"]
    by_handle = await client.get("/api/v1/accounts/search", params={"q": "ann@mayo.test", "following": "true"},
                                 headers=token)
    assert usernames(by_handle) == []
    by_handle = await client.get("/api/v1/accounts/search", params={"q": "annette@mayo.test", "following": "1"},
                                 headers=token)
    assert usernames(by_handle) == ["annette"]


async def test_account_search_needs_a_signed_in_person_with_read_accounts(ctx, client):
    ann = await add_account(ctx, "ann")
    assert (await client.get("/api/v1/accounts/search", params={"q": "ann"})).status_code == 401
    narrow = await bearer(ctx, ann, ("read:statuses",))
    assert (await client.get("/api/v1/accounts/search", params={"q": "ann"}, headers=narrow)).status_code == 403
    scoped = await bearer(ctx, ann, ("read:accounts",))
    assert usernames(await client.get("/api/v1/accounts/search", params={"q": "ann"}, headers=scoped)) == ["ann"]


async def test_suspended_accounts_and_accounts_of_suspended_domains_are_not_found(ctx, client):
    from moderation.domains import BlockEntry, save_block
    from storage.tables import utcnow

    ann = await add_account(ctx, "ann")
    await add_remote_actor(ctx, "anna", "inova.test")
    await add_remote_actor(ctx, "annika", "social.spam.example")
    await add_remote_actor(ctx, "anders", "noisy.example")
    await add_account(ctx, "anton", suspended_at=utcnow())
    async with ctx.database.transaction() as session:
        await save_block(session, BlockEntry("spam.example", "suspend"), by=None, via="cli")
        await save_block(session, BlockEntry("noisy.example", "silence"), by=None, via="cli")
    found = usernames(await client.get("/api/v1/accounts/search", params={"q": "an"}, headers=await bearer(ctx, ann)))
    assert found == ["ann", "anders", "anna"]  # a silenced domain's account is still found

"""Finding and following people on other instances through the client API, as an app would:
search with `resolve=true`, follow, and answer the follow request on the other instance.

Each instance is a real app with its own database; they talk over real signed HTTP through a
host-routing transport, and `drain()` runs their inbox and delivery workers.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.tables import Actor, Follow, Status
from tests.conftest import add_remote_actor
from tests.support.actions import follow_state, post, status_on
from tests.support.api import bearer
from tests.support.network import federation_of

MAYO, INOVA, RADBOUD = "mayo.test", "inova.test", "radboud.test"
EMPTY = {"accounts": [], "statuses": [], "hashtags": []}


@pytest.fixture
async def network(new_database_url):
    async with federation_of([MAYO, INOVA, RADBOUD], new_database_url) as (nodes, drain):
        yield nodes, drain


async def search(node, headers, q: str, **params) -> dict:
    response = await node.client.get("/api/v2/search", params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def relationship(node, headers, account_id: str) -> dict:
    response = await node.client.get("/api/v1/accounts/relationships", params={"id[]": account_id},
                                     headers=headers)
    assert response.status_code == 200, response.text
    return response.json()[0]


async def actors_named(node, username: str) -> int:
    async with node.ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(Actor)
                                   .where(Actor.username_key == username))).one()


async def test_member_finds_remote_staff_by_handle_and_follows_him(network):
    (mayo, inova, _), drain = network
    ann = await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    token = await bearer(mayo.ctx, ann, ("read", "write"))
    assert await search(mayo, token, "dr_bo@inova.test") == EMPTY  # not known here, not resolved
    assert await actors_named(mayo, "dr_bo") == 0

    found = await search(mayo, token, "@dr_bo@inova.test", resolve="true")
    assert [(a["acct"], a["uri"]) for a in found["accounts"]] == [("dr_bo@inova.test", bo.actor.uri)]
    assert (found["statuses"], found["hashtags"]) == ([], [])
    remote_id = found["accounts"][0]["id"]

    response = await mayo.client.post(f"/api/v1/accounts/{remote_id}/follow", headers=token)
    assert response.status_code == 200, response.text
    assert (response.json()["following"], response.json()["requested"]) == (False, True)
    await drain()
    assert await follow_state(inova, f"https://{MAYO}/users/ann", bo.actor.uri) == "accepted"
    after = await relationship(mayo, token, remote_id)
    assert (after["following"], after["requested"]) == (True, False)
    # Once known, the account is found by name without resolving.
    by_name = await search(mayo, token, "DR_B", type="accounts")
    assert [a["acct"] for a in by_name["accounts"]] == ["dr_bo@inova.test"]

    response = await mayo.client.post(f"/api/v1/accounts/{remote_id}/unfollow", headers=token)
    assert response.json()["following"] is False
    await drain()
    assert await follow_state(inova, f"https://{MAYO}/users/ann", bo.actor.uri) is None


async def test_locked_account_is_requested_until_its_owner_authorizes_on_the_other_instance(network):
    (mayo, inova, _), drain = network
    ann = await mayo.account("ann")
    cy = await inova.account("cy")  # a patient: locked by default
    ann_token = await bearer(mayo.ctx, ann, ("read", "write", "follow"))
    cy_token = await bearer(inova.ctx, cy, ("read", "write"))
    [found] = (await search(mayo, ann_token, "cy@inova.test", resolve="1"))["accounts"]
    assert found["locked"] is True
    await mayo.client.post(f"/api/v1/accounts/{found['id']}/follow", headers=ann_token)
    await drain()
    waiting = await relationship(mayo, ann_token, found["id"])
    assert (waiting["following"], waiting["requested"]) == (False, True)

    requests = await inova.client.get("/api/v1/follow_requests", headers=cy_token)
    assert [a["acct"] for a in requests.json()] == ["ann@mayo.test"]
    ann_there = requests.json()[0]["id"]
    response = await inova.client.post(f"/api/v1/follow_requests/{ann_there}/authorize", headers=cy_token)
    assert response.status_code == 200, response.text
    assert (response.json()["followed_by"], response.json()["requested_by"]) == (True, False)
    await drain()
    accepted = await relationship(mayo, ann_token, found["id"])
    assert (accepted["following"], accepted["requested"]) == (True, False)
    assert (await inova.client.get("/api/v1/follow_requests", headers=cy_token)).json() == []


async def test_rejected_request_is_withdrawn_on_the_asking_instance(network):
    (mayo, inova, _), drain = network
    ann = await mayo.account("ann")
    cy = await inova.account("cy")
    ann_token = await bearer(mayo.ctx, ann, ("read", "write"))
    cy_token = await bearer(inova.ctx, cy, ("read", "write"))
    [found] = (await search(mayo, ann_token, "cy@inova.test", resolve="true"))["accounts"]
    await mayo.client.post(f"/api/v1/accounts/{found['id']}/follow", headers=ann_token)
    await drain()
    [asker] = (await inova.client.get("/api/v1/follow_requests", headers=cy_token)).json()
    response = await inova.client.post(f"/api/v1/follow_requests/{asker['id']}/reject", headers=cy_token)
    assert response.status_code == 200, response.text
    await drain()
    after = await relationship(mayo, ann_token, found["id"])
    assert (after["following"], after["requested"]) == (False, False)
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Follow))).one() == 0


async def test_search_by_url_of_a_remote_public_post_returns_it_as_a_status(network):
    (mayo, inova, _), drain = network
    ann = await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    token = await bearer(mayo.ctx, ann, ("read",))
    status = await post(inova, "dr_bo", "Flu shots are open", "public")
    assert await search(mayo, token, status.uri) == EMPTY  # unknown here, and not resolved
    found = await search(mayo, token, status.uri, resolve="true")
    [entity] = found["statuses"]
    assert (entity["uri"], entity["content"]) == (status.uri, "<p>Flu shots are open</p>")
    assert entity["account"]["acct"] == "dr_bo@inova.test" and entity["visibility"] == "public"
    stored = await status_on(mayo, status.uri)
    assert stored is not None and not stored.local
    # Searching again finds the stored copy; nothing is stored twice.
    assert [s["id"] for s in (await search(mayo, token, status.uri, resolve="true"))["statuses"]] == [entity["id"]]
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Status))).one() == 1
    # The author's URL finds the author.
    by_actor = await search(mayo, token, bo.actor.uri, resolve="true")
    assert [a["acct"] for a in by_actor["accounts"]] == ["dr_bo@inova.test"]
    assert by_actor["statuses"] == []


async def test_search_by_url_of_a_followers_only_post_finds_nothing(network):
    (mayo, inova, _), _drain = network
    ann = await mayo.account("ann")
    await inova.account("dr_bo", role="staff")
    token = await bearer(mayo.ctx, ann, ("read",))
    private = await post(inova, "dr_bo", "Staff rota", "private")
    assert await search(mayo, token, private.uri, resolve="true") == EMPTY
    assert await status_on(mayo, private.uri) is None


async def test_failed_lookups_answer_empty_results(network):
    (mayo, inova, _), _drain = network
    ann = await mayo.account("ann")
    token = await bearer(mayo.ctx, ann, ("read",))
    for q in ("nobody@inova.test", "someone@nowhere.test", f"https://{INOVA}/users/nobody",
              "https://nowhere.test/notes/1", f"https://{INOVA}/.well-known/nodeinfo"):
        assert await search(mayo, token, q, resolve="true") == EMPTY, q
    async with mayo.ctx.database.session() as session:
        remote = await session.exec(select(func.count()).select_from(Actor).where(
            Actor.domain.is_not(None)))  # type: ignore[union-attr]
        assert remote.one() == 0


async def test_anonymous_search_may_not_resolve(network):
    (mayo, inova, _), _drain = network
    await inova.account("dr_bo", role="staff")
    response = await mayo.client.get("/api/v2/search", params={"q": "dr_bo@inova.test", "resolve": "true"})
    assert response.status_code == 401 and "error" in response.json()
    assert await actors_named(mayo, "dr_bo") == 0


async def test_domain_policy_refuses_resolving_outside_the_network(new_database_url):
    # allowlist mode with no network and no listed domain: no other host is allowed.
    async with federation_of([MAYO, INOVA], new_database_url, federation_mode="allowlist") as (nodes, _drain):
        mayo, inova = nodes
        ann = await mayo.account("ann")
        await inova.account("dr_bo", role="staff")
        status = await post(inova, "dr_bo", "Flu shots are open", "public")
        token = await bearer(mayo.ctx, ann, ("read", "follow"))
        assert await search(mayo, token, "dr_bo@inova.test", resolve="true") == EMPTY
        assert await search(mayo, token, status.uri, resolve="true") == EMPTY
        assert await actors_named(mayo, "dr_bo") == 0
        assert await status_on(mayo, status.uri) is None
        # An account known from before the policy changed cannot be followed any more.
        known = await add_remote_actor(mayo.ctx, "dr_who", INOVA)
        response = await mayo.client.post(f"/api/v1/accounts/{known.id}/follow", headers=token)
        assert response.status_code == 403, response.text
        async with mayo.ctx.database.session() as session:
            assert (await session.exec(select(func.count()).select_from(Follow))).one() == 0


async def test_block_through_the_api_severs_follows_on_both_instances(network):
    (mayo, inova, _), drain = network
    ann = await mayo.account("ann", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    ann_token = await bearer(mayo.ctx, ann, ("read", "follow"))
    bo_token = await bearer(inova.ctx, bo, ("read", "follow"))
    [bo_here] = (await search(mayo, ann_token, "dr_bo@inova.test", resolve="true"))["accounts"]
    [ann_there] = (await search(inova, bo_token, "ann@mayo.test", resolve="true"))["accounts"]
    await mayo.client.post(f"/api/v1/accounts/{bo_here['id']}/follow", headers=ann_token)
    await inova.client.post(f"/api/v1/accounts/{ann_there['id']}/follow", headers=bo_token)
    await drain()
    assert (await relationship(mayo, ann_token, bo_here["id"]))["following"] is True
    assert (await relationship(inova, bo_token, ann_there["id"]))["following"] is True

    response = await mayo.client.post(f"/api/v1/accounts/{bo_here['id']}/block", headers=ann_token)
    assert response.status_code == 200, response.text
    assert (response.json()["blocking"], response.json()["following"], response.json()["followed_by"]) == (
        True, False, False)
    await drain()
    seen_by_bo = await relationship(inova, bo_token, ann_there["id"])
    assert (seen_by_bo["following"], seen_by_bo["followed_by"], seen_by_bo["blocked_by"]) == (False, False, True)
    ann_uri, bo_uri = f"https://{MAYO}/users/ann", bo.actor.uri
    assert await follow_state(inova, ann_uri, bo_uri) is None
    assert await follow_state(inova, bo_uri, ann_uri) is None
    refused = await inova.client.post(f"/api/v1/accounts/{ann_there['id']}/follow", headers=bo_token)
    assert refused.status_code == 403

    response = await mayo.client.post(f"/api/v1/accounts/{bo_here['id']}/unblock", headers=ann_token)
    assert response.json()["blocking"] is False
    await drain()
    assert (await relationship(inova, bo_token, ann_there["id"]))["blocked_by"] is False

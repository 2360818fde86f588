"""Network-only posts: followers on member instances get them, nobody outside the network does.

Mayo and Inova are members of the network; Radboud is not (all three federate openly, so a
Radboud person can follow a Mayo author). The post is made through the client API, as an app
would, and fetched back by each instance's instance actor with a signed GET.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.tables import Delivery
from tests.support.actions import follow, status_on
from tests.support.api import bearer
from tests.support.network import federation_of

MAYO, INOVA, RADBOUD = "mayo.test", "inova.test", "radboud.test"
AS_JSON = {"Accept": "application/activity+json"}


@pytest.fixture
async def network(new_database_url, tmp_path):
    members = tmp_path / "network.toml"
    members.write_text(f'name = "Hospital Network"\n[[members]]\nname = "Mayo Clinic"\ndomain = "{MAYO}"\n'
                       f'[[members]]\nname = "Inova"\ndomain = "{INOVA}"\n')
    async with federation_of([MAYO, INOVA, RADBOUD], new_database_url, network_file=members) as (nodes, drain):
        yield nodes, drain


async def _followed_author(nodes, drain):
    mayo, inova, radboud = nodes
    author = await mayo.account("dr_ann", role="staff")
    await inova.account("bo")
    await radboud.account("dee")
    await follow(inova, "bo", author.actor.uri)
    await follow(radboud, "dee", author.actor.uri)
    await drain()
    return author, await bearer(mayo.ctx, author, ("read", "write"))


async def test_a_network_post_reaches_member_followers_only_and_shows_as_network(network):
    (mayo, inova, radboud), drain = network
    author, token = await _followed_author((mayo, inova, radboud), drain)
    answer = await mayo.client.post("/api/v1/statuses", headers=token, data={
        "status": "Ward rounds move to 9:00 @dee@radboud.test", "visibility": "network"})
    assert answer.status_code == 200, answer.text
    entity = answer.json()
    assert entity["visibility"] == "network"
    await drain()
    uri = entity["uri"]
    received = await status_on(inova, uri)
    assert received is not None and received.visibility == "private"  # followers-only to a receiver
    assert await status_on(radboud, uri) is None  # a follower there, and mentioned: still nothing
    async with mayo.ctx.database.session() as session:
        hosts = set(await session.exec(select(Delivery.host).where(Delivery.activity_uri == f"{uri}/activity")))
    assert hosts == {INOVA}
    # Served only to a signed fetch from a member instance.
    assert (await inova.federation.fetcher.fetch_activity(uri))["id"] == uri
    with pytest.raises(Exception, match="404|not found"):
        await radboud.federation.fetcher.fetch_activity(uri)
    assert (await mayo.client.get(uri, headers=AS_JSON)).status_code == 404  # unsigned
    # Not in public timelines, not to an anonymous caller, and not boostable (as followers-only).
    public = (await mayo.client.get("/api/v1/timelines/public")).json()
    assert uri not in [status["uri"] for status in public]
    assert (await mayo.client.get(f"/api/v1/statuses/{entity['id']}")).status_code == 404
    reblog = await mayo.client.post(f"/api/v1/statuses/{entity['id']}/reblog", headers=token)
    assert reblog.status_code == 422


async def test_network_can_be_the_default_privacy_and_pins_keep_it(network):
    (mayo, inova, radboud), drain = network
    author, token = await _followed_author((mayo, inova, radboud), drain)
    changed = await mayo.client.patch("/api/v1/accounts/update_credentials", headers=token,
                                      data={"source[privacy]": "network"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["source"]["privacy"] == "network"
    posted = (await mayo.client.post("/api/v1/statuses", headers=token, data={"status": "Handover notes"})).json()
    assert posted["visibility"] == "network"
    pinned = await mayo.client.post(f"/api/v1/statuses/{posted['id']}/pin", headers=token)
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True


async def test_an_instance_outside_any_network_refuses_network_visibility(new_database_url):
    async with federation_of([MAYO], new_database_url) as ((mayo,), _drain):
        author = await mayo.account("dr_ann", role="staff")
        token = await bearer(mayo.ctx, author, ("read", "write"))
        answer = await mayo.client.post("/api/v1/statuses", headers=token,
                                        data={"status": "hello", "visibility": "network"})
        assert answer.status_code == 422
        assert "belongs to no network" in answer.json()["error"]
        refused = await mayo.client.patch("/api/v1/accounts/update_credentials", headers=token,
                                          data={"source[privacy]": "network"})
        assert refused.status_code == 422
        statuses = (await mayo.client.get(f"/api/v1/accounts/{author.actor.id}/statuses", headers=token)).json()
        assert statuses == []

"""Actor documents, content negotiation and collections."""

import pytest
from sqlalchemy import update

from storage.tables import Follow
from tests.conftest import add_account, add_remote_actor

AS_JSON = {"Accept": "application/activity+json"}
LD_JSON = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize("headers", [AS_JSON, LD_JSON])
async def test_actor_document_for_activitypub_clients(ctx, client, headers):
    await add_account(ctx, "ann")
    response = await client.get("/users/ann", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/activity+json")
    person = response.json()
    assert person["@context"][:2] == ["https://www.w3.org/ns/activitystreams",
                                      "https://w3id.org/security/v1"]
    assert person["type"] == "Person"
    assert person["id"] == "https://mayo.test/users/ann"
    assert person["preferredUsername"] == "ann"
    for key, suffix in [("inbox", "/inbox"), ("outbox", "/outbox"),
                        ("followers", "/followers"), ("following", "/following")]:
        assert person[key] == "https://mayo.test/users/ann" + suffix
    assert person["endpoints"] == {"sharedInbox": "https://mayo.test/inbox"}
    assert person["url"] == "https://mayo.test/@ann"
    assert person["manuallyApprovesFollowers"] is True
    assert person["discoverable"] is False and person["indexable"] is False
    assert person["published"].endswith("Z")
    assert person["publicKey"]["id"] == "https://mayo.test/users/ann#main-key"
    assert person["publicKey"]["owner"] == person["id"]
    assert person["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")


async def test_browser_gets_a_profile_page(ctx, client):
    await add_account(ctx, "dr_bo", role="staff", display_name="Dr. Bo <Lee>",
                      summary="<p>Cardiology</p><script>alert(1)</script>")
    for path in ("/users/dr_bo", "/@dr_bo"):
        response = await client.get(path, headers=BROWSER)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "@dr_bo@mayo.test" in response.text
        assert "Dr. Bo &lt;Lee&gt;" in response.text
        assert "<p>Cardiology</p>" in response.text
        assert "<script>" not in response.text


async def test_instance_actor_is_an_application(client):
    response = await client.get("/actor", headers=AS_JSON)
    document = response.json()
    assert document["type"] == "Application"
    assert document["id"] == "https://mayo.test/actor"
    assert document["preferredUsername"] == "mayo.test"
    assert document["publicKey"]["id"] == "https://mayo.test/actor#main-key"


async def test_unknown_actor_is_404_json(client):
    response = await client.get("/users/nobody", headers=AS_JSON)
    assert response.status_code == 404
    assert response.json() == {"error": "no account named 'nobody' here"}


async def test_unknown_route_is_404_json(client):
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert "error" in response.json()


async def test_wrong_method_is_405_json(ctx, client):
    await add_account(ctx, "ann")
    response = await client.delete("/users/ann")
    assert response.status_code == 405
    assert response.json() == {"error": "Method Not Allowed"}


async def _follow(ctx, follower, followee, state="accepted"):
    follower, followee = getattr(follower, "actor", follower), getattr(followee, "actor", followee)
    async with ctx.database.transaction() as session:
        session.add(Follow(follower_id=follower.id, followee_id=followee.id, state=state))


async def test_staff_collections_list_accepted_follows_only(ctx, client):
    bo = await add_account(ctx, "dr_bo", role="staff")
    ann = await add_remote_actor(ctx, "ann")
    cy = await add_remote_actor(ctx, "cy")
    await _follow(ctx, ann, bo)
    await _follow(ctx, cy, bo, state="pending")
    await _follow(ctx, bo, ann)
    followers = (await client.get("/users/dr_bo/followers", headers=AS_JSON)).json()
    assert followers["type"] == "OrderedCollection"
    assert followers["totalItems"] == 1
    page = (await client.get(followers["first"], headers=AS_JSON)).json()
    assert page["type"] == "OrderedCollectionPage"
    assert page["partOf"] == "https://mayo.test/users/dr_bo/followers"
    assert page["orderedItems"] == ["https://inova.test/users/ann"]
    following = (await client.get("/users/dr_bo/following?page=1", headers=AS_JSON)).json()
    assert following["orderedItems"] == ["https://inova.test/users/ann"]


async def test_member_collections_show_counts_but_hide_who(ctx, client):
    ann = await add_account(ctx, "ann")
    bo = await add_account(ctx, "dr_bo", role="staff")
    await _follow(ctx, bo, ann)
    followers = (await client.get("/users/ann/followers", headers=AS_JSON)).json()
    assert followers["totalItems"] == 1
    assert "first" not in followers and "orderedItems" not in followers
    hidden_page = (await client.get("/users/ann/followers?page=1", headers=AS_JSON)).json()
    assert "orderedItems" not in hidden_page


async def test_collection_pages_are_paged_by_forty(ctx, client):
    bo = await add_account(ctx, "dr_bo", role="staff")
    fans = [await add_remote_actor(ctx, f"fan{number}") for number in range(41)]
    for fan in fans:
        await _follow(ctx, fan, bo, state="pending")
    async with ctx.database.transaction() as session:
        await session.exec(update(Follow).values(state="accepted"))
    first = (await client.get("/users/dr_bo/followers?page=1", headers=AS_JSON)).json()
    assert len(first["orderedItems"]) == 40 and first["next"].endswith("?page=2")
    second = (await client.get(first["next"], headers=AS_JSON)).json()
    assert len(second["orderedItems"]) == 1 and "next" not in second
    assert (await client.get("/users/dr_bo/followers?page=0")).status_code == 400


async def test_outbox_is_an_ordered_collection_with_a_count(ctx, client):
    await add_account(ctx, "dr_bo", role="staff")
    outbox = (await client.get("/users/dr_bo/outbox", headers=AS_JSON)).json()
    assert outbox == {"@context": "https://www.w3.org/ns/activitystreams",
                      "id": "https://mayo.test/users/dr_bo/outbox",
                      "type": "OrderedCollection", "totalItems": 0}


async def test_body_over_the_limit_is_413(ctx, client):
    await add_account(ctx, "ann")
    response = await client.post("/users/ann", content=b"x" * (ctx.settings.max_body_bytes + 1))
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


async def test_outbox_pages_show_public_and_unlisted_posts_and_boosts_never_private_or_local(ctx, app, client):
    bo = (await add_account(ctx, "dr_bo", role="staff")).actor
    outbox_actions = app.state.federation.outbox
    async with ctx.database.transaction() as session:
        posted = {visibility: await outbox_actions.post_status(
            session, bo, content_html=f"<p>{visibility} post</p>", visibility=visibility, hashtags=["flu"])
            for visibility in ("public", "unlisted", "private", "direct", "local")}
        boost = await outbox_actions.boost(session, bo, posted["public"], bo)
    outbox = (await client.get("/users/dr_bo/outbox", headers=AS_JSON)).json()
    assert outbox["totalItems"] == 3 and outbox["first"] == "https://mayo.test/users/dr_bo/outbox?page=1"
    page = (await client.get(outbox["first"], headers=AS_JSON)).json()
    assert page["type"] == "OrderedCollectionPage" and page["partOf"] == "https://mayo.test/users/dr_bo/outbox"
    items = page["orderedItems"]
    assert [item["type"] for item in items] == ["Announce", "Create", "Create"]  # newest first
    assert items[0]["id"] == boost.uri and items[0]["object"] == posted["public"].uri
    assert [item["object"]["id"] for item in items[1:]] == [posted["unlisted"].uri, posted["public"].uri]
    assert items[2]["object"]["tag"][0]["name"] == "#flu"
    assert [item["object"]["content"] for item in items[1:]] == ["<p>unlisted post</p>", "<p>public post</p>"]
    assert (await client.get("/users/dr_bo/outbox?page=2", headers=AS_JSON)).json()["orderedItems"] == []
    assert (await client.get("/users/dr_bo/outbox?page=x", headers=AS_JSON)).status_code == 400

"""The read side of the client API through the real app and database: who sees what, paging,
relationships, lookup, threads, timelines, CORS and 404s."""

from __future__ import annotations

import re

import httpx
import pytest

from actors.accounts import ensure_instance_actor
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, boost, favourite, follow, post, remote_post
from tests.support.statements import statements_sent
from web.api.params import rails_bool
from web.app import create_app

NOT_FOUND = {"error": "Record not found"}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [entity["id"] for entity in response.json()]


def links(response) -> dict[str, str]:
    """rel → URL from a Link header, checking the exact shape masto.js parses."""
    header = response.headers.get("link")
    if header is None:
        return {}
    found = {}
    for part in header.split(", "):
        match = re.fullmatch(r'<(https?://[^>,]+)>; rel="(next|prev)"', part)
        assert match, f"malformed Link part {part!r}"
        found[match.group(2)] = match.group(1)
    return found


@pytest.fixture
async def people(ctx):
    """ann posts; bob follows her (accepted); cy asked (pending); dee is mentioned; eve is nobody."""
    accounts = {name: await add_account(ctx, name) for name in ("ann", "bob", "cy", "dee", "eve")}
    await follow(ctx, accounts["bob"].actor, accounts["ann"].actor)
    await follow(ctx, accounts["cy"].actor, accounts["ann"].actor, accept=False)
    return accounts


async def test_followers_only_status_is_hidden_from_anonymous_and_strangers_and_shown_to_followers(
        ctx, client, people):
    status = await post(ctx, people["ann"].actor, "my results came back", "private")
    path = f"/api/v1/statuses/{status.id}"
    assert (await client.get(path)).status_code == 404
    assert (await client.get(path)).json() == NOT_FOUND
    for stranger in ("eve", "cy"):
        response = await client.get(path, headers=await bearer(ctx, people[stranger]))
        assert response.status_code == 404, stranger
    response = await client.get(path, headers=await bearer(ctx, people["bob"]))
    assert response.status_code == 200
    assert response.json()["visibility"] == "private"
    account_statuses = f"/api/v1/accounts/{people['ann'].actor.id}/statuses"
    assert ids(await client.get(account_statuses)) == []
    assert ids(await client.get(account_statuses, headers=await bearer(ctx, people["eve"]))) == []
    assert ids(await client.get(account_statuses, headers=await bearer(ctx, people["bob"]))) == [str(status.id)]


async def test_direct_status_reaches_only_its_author_and_the_mentioned(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "@dee see you at 3", "direct", mentions=(people["dee"].actor,))
    path = f"/api/v1/statuses/{status.id}"
    expected = {"ann": 200, "dee": 200, "bob": 404, "eve": 404}
    for name, code in expected.items():
        assert (await client.get(path, headers=await bearer(ctx, people[name]))).status_code == code, name
    assert (await client.get(path)).status_code == 404
    dee_home = await client.get("/api/v1/timelines/home", headers=await bearer(ctx, people["dee"]))
    assert ids(dee_home) == []  # dee does not follow ann: mentioned, but not a home-timeline author


async def test_local_only_status_is_for_signed_in_people_here_only(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "ward 4 coffee morning", "local")
    path = f"/api/v1/statuses/{status.id}"
    assert (await client.get(path)).status_code == 404
    response = await client.get(path, headers=await bearer(ctx, people["eve"]))
    assert response.status_code == 200 and response.json()["visibility"] == "local"
    assert ids(await client.get("/api/v1/timelines/public", params={"local": "true"})) == []
    signed_in = await client.get("/api/v1/timelines/public", params={"local": "true"},
                                 headers=await bearer(ctx, people["eve"]))
    assert ids(signed_in) == [str(status.id)]
    remote_only = await client.get("/api/v1/timelines/public", params={"remote": "1"},
                                   headers=await bearer(ctx, people["eve"]))
    assert ids(remote_only) == []


@pytest.mark.parametrize("timeline", ["account", "home"])
async def test_statuses_page_with_link_headers_until_an_empty_page(ctx, client, people, timeline):
    # The account's statuses build their query per request; the home timeline's is built once
    # with bind parameters, one statement per shape of page: every shape is read here.
    ann = people["ann"].actor
    posted = [await post(ctx, ann, f"note {n}") for n in range(5)]
    newest_first = [str(s.id) for s in reversed(posted)]
    path, headers = {"account": (f"/api/v1/accounts/{ann.id}/statuses", {}),
                     "home": ("/api/v1/timelines/home", await bearer(ctx, people["bob"]))}[timeline]
    first = await client.get(path, params={"limit": 2, "exclude_replies": "true"}, headers=headers)
    assert ids(first) == newest_first[:2]
    next_url = links(first)["next"]
    assert next_url.startswith(f"https://mayo.test{path}?")
    assert f"max_id={newest_first[1]}" in next_url and "exclude_replies=true" in next_url and "limit=2" in next_url
    assert f"min_id={newest_first[0]}" in links(first)["prev"]
    second = await client.get(next_url, headers=headers)
    assert ids(second) == newest_first[2:4]
    third = await client.get(links(second)["next"], headers=headers)
    assert ids(third) == newest_first[4:]
    last = await client.get(links(third)["next"], headers=headers)
    assert ids(last) == [] and "link" not in last.headers
    back = await client.get(links(third)["prev"], headers=headers)  # min_id: the page immediately newer
    assert ids(back) == newest_first[2:4]
    since = await client.get(path, params={"since_id": newest_first[3], "limit": 2}, headers=headers)
    assert ids(since) == newest_first[:2]  # since_id: the newest ones, not the adjacent ones
    between = await client.get(path, params={"max_id": newest_first[0], "since_id": newest_first[4]},
                               headers=headers)
    assert ids(between) == newest_first[1:4]
    above = await client.get(path, params={"max_id": newest_first[0], "min_id": newest_first[4], "limit": 2},
                             headers=headers)
    assert ids(above) == newest_first[2:4]
    both = await client.get(path, params={"since_id": newest_first[4], "min_id": newest_first[3]}, headers=headers)
    assert ids(both) == newest_first[:3]  # min_id wins, as in Mastodon


async def test_limit_is_clamped_and_bad_paging_ids_are_refused(ctx, client, people):
    ann = people["ann"].actor
    for n in range(3):
        await post(ctx, ann, f"note {n}")
    path = f"/api/v1/accounts/{ann.id}/statuses"
    assert len(ids(await client.get(path, params={"limit": 0}))) == 1
    assert len(ids(await client.get(path, params={"limit": "lots"}))) == 3
    refused = await client.get(path, params={"max_id": "abc"})
    assert refused.status_code == 400 and "max_id" in refused.json()["error"]


async def test_relationships_answer_in_request_order_for_id_and_id_brackets(ctx, client, people):
    bob = people["bob"]
    ann, cy, eve = people["ann"].actor, people["cy"].actor, people["eve"].actor
    headers = await bearer(ctx, bob, ("read:follows",))
    order = [eve.id, ann.id, cy.id]
    response = await client.get("/api/v1/accounts/relationships",
                                params=[("id[]", str(i)) for i in order] + [("id[]", "999"), ("id[]", "x")],
                                headers=headers)
    assert ids(response) == [str(i) for i in order]
    by_id = {r["id"]: r for r in response.json()}
    assert by_id[str(ann.id)]["following"] is True and by_id[str(ann.id)]["requested"] is False
    assert by_id[str(eve.id)]["following"] is False
    single = await client.get("/api/v1/accounts/relationships", params={"id": str(ann.id)}, headers=headers)
    assert ids(single) == [str(ann.id)]
    cy_view = await client.get("/api/v1/accounts/relationships", params={"id[]": str(ann.id)},
                               headers=await bearer(ctx, people["cy"]))
    assert cy_view.json()[0]["requested"] is True and cy_view.json()[0]["following"] is False
    ann_view = await client.get("/api/v1/accounts/relationships", params=[("id[]", str(bob.actor.id)),
                                                                          ("id[]", str(cy.id))],
                                headers=await bearer(ctx, people["ann"]))
    assert [(r["followed_by"], r["requested_by"]) for r in ann_view.json()] == [(True, False), (False, True)]


async def test_relationships_need_a_token_with_the_follows_scope(ctx, client, people):
    assert (await client.get("/api/v1/accounts/relationships", params={"id": "1"})).status_code == 401
    write_only = await bearer(ctx, people["bob"], ("write",))
    assert (await client.get("/api/v1/accounts/relationships", params={"id": "1"},
                             headers=write_only)).status_code == 403


async def test_lookup_finds_local_and_known_remote_accounts_only(ctx, client, people):
    rae = await add_remote_actor(ctx, "Rae", "inova.test")
    for acct in ("ann", "@ann", "ANN", "ann@mayo.test"):
        response = await client.get("/api/v1/accounts/lookup", params={"acct": acct})
        assert response.status_code == 200, acct
        assert response.json()["acct"] == "ann"
    remote = await client.get("/api/v1/accounts/lookup", params={"acct": "rae@INOVA.test"})
    assert remote.json()["id"] == str(rae.id) and remote.json()["acct"] == "Rae@inova.test"
    for unknown in ("nobody", "ann@inova.test", "mayo.test"):  # the instance actor is not an account
        response = await client.get("/api/v1/accounts/lookup", params={"acct": unknown})
        assert response.status_code == 404 and response.json() == NOT_FOUND, unknown
    assert (await client.get("/api/v1/accounts/lookup")).status_code == 400


async def test_context_lists_visible_ancestors_and_descendants_depth_first(ctx, client, people):
    ann, bob, eve = people["ann"].actor, people["bob"].actor, people["eve"].actor
    root = await post(ctx, ann, "root")
    first = await post(ctx, bob, "first reply", reply_to=root)
    hidden = await post(ctx, ann, "followers-only reply", "private", reply_to=first)
    under_hidden = await post(ctx, bob, "reply below the hidden one", reply_to=hidden)
    second = await post(ctx, eve, "second reply", reply_to=root)
    response = await client.get(f"/api/v1/statuses/{first.id}/context")
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["ancestors"]] == [str(root.id)]
    assert [s["id"] for s in response.json()["descendants"]] == [str(under_hidden.id)]
    as_bob = await client.get(f"/api/v1/statuses/{root.id}/context", headers=await bearer(ctx, people["bob"]))
    assert [s["id"] for s in as_bob.json()["ancestors"]] == []
    assert [s["id"] for s in as_bob.json()["descendants"]] == [
        str(first.id), str(hidden.id), str(under_hidden.id), str(second.id)]
    leaf = await client.get(f"/api/v1/statuses/{under_hidden.id}/context")
    assert [s["id"] for s in leaf.json()["ancestors"]] == [str(root.id), str(first.id)]
    assert (await client.get(f"/api/v1/statuses/{hidden.id}/context")).status_code == 404


async def test_home_timeline_has_own_and_followed_posts_and_boosts_but_not_strangers(ctx, client, people):
    ann, bob, eve = people["ann"].actor, people["bob"].actor, people["eve"].actor
    staff = await add_account(ctx, "dr_lee", role="staff")
    await follow(ctx, bob, staff.actor)
    from_ann = await post(ctx, ann, "followers only", "private")
    from_eve = await post(ctx, eve, "public but not followed")
    own = await post(ctx, bob, "my own")
    from_lee = await post(ctx, staff.actor, "clinic hours")
    boosted = await boost(ctx, staff.actor, from_eve, eve)
    response = await client.get("/api/v1/timelines/home", headers=await bearer(ctx, people["bob"]))
    assert ids(response) == [str(boosted.id), str(from_lee.id), str(own.id), str(from_ann.id)]
    assert response.json()[0]["reblog"]["id"] == str(from_eve.id)
    assert (await client.get("/api/v1/timelines/home")).status_code == 401


async def test_public_timeline_filters_local_remote_media_and_replies(ctx, client, people):
    ann = people["ann"].actor
    rae = await add_remote_actor(ctx, "rae")
    local = await post(ctx, ann, "local public")
    await post(ctx, ann, "reply to someone else", reply_to=await post(ctx, people["eve"].actor, "eve's"))
    await post(ctx, ann, "unlisted", "unlisted")
    remote = await remote_post(ctx, rae, "remote public")
    pictured = await remote_post(ctx, rae, "with a picture", media_url="https://inova.test/media/1.png")
    await boost(ctx, people["bob"].actor, local, ann)
    everything = ids(await client.get("/api/v1/timelines/public"))
    assert str(local.id) in everything and str(remote.id) in everything and str(pictured.id) in everything
    assert len(everything) == 4  # eve's post, ann's, and the two remote ones: no reply, unlisted or boost
    local_only = ids(await client.get("/api/v1/timelines/public", params={"local": "1"}))
    assert str(remote.id) not in local_only and str(local.id) in local_only
    assert ids(await client.get("/api/v1/timelines/public", params={"local": "0", "remote": "t"})) == [
        str(pictured.id), str(remote.id)]
    assert ids(await client.get("/api/v1/timelines/public", params={"only_media": "true"})) == [str(pictured.id)]
    assert len(ids(await client.get("/api/v1/timelines/public", params={"only_media": "off"}))) == 4


async def test_tag_timeline_matches_any_all_and_none(ctx, client, people):
    ann = people["ann"].actor
    flu = await post(ctx, ann, "#flu", hashtags=("flu",))
    both = await post(ctx, ann, "#flu #vaccine", hashtags=("flu", "vaccine"))
    vaccine = await post(ctx, ann, "#vaccine", hashtags=("vaccine",))
    await post(ctx, ann, "#flu privately", "private", hashtags=("flu",))
    assert ids(await client.get("/api/v1/timelines/tag/Flu")) == [str(both.id), str(flu.id)]
    assert ids(await client.get("/api/v1/timelines/tag/flu", params={"any[]": "vaccine"})) == [
        str(vaccine.id), str(both.id), str(flu.id)]
    assert ids(await client.get("/api/v1/timelines/tag/flu", params={"all[]": "vaccine"})) == [str(both.id)]
    assert ids(await client.get("/api/v1/timelines/tag/flu", params={"none[]": "vaccine"})) == [str(flu.id)]


async def test_followers_and_following_list_accepted_follows_and_respect_hidden_collections(ctx, client, people):
    ann, bob = people["ann"], people["bob"]
    staff = await add_account(ctx, "dr_lee", role="staff")
    for name in ("ann", "bob", "cy", "eve"):
        await follow(ctx, people[name].actor, staff.actor)
    followers = await client.get(f"/api/v1/accounts/{staff.actor.id}/followers", params={"limit": 3})
    assert ids(followers) == [str(people[n].actor.id) for n in ("eve", "cy", "bob")]
    rest = await client.get(links(followers)["next"])
    assert ids(rest) == [str(ann.actor.id)]
    following = await client.get(f"/api/v1/accounts/{bob.actor.id}/following", headers=await bearer(ctx, bob))
    assert ids(following) == [str(staff.actor.id), str(ann.actor.id)]
    # A member hides their collections: nobody else sees them, not even anonymously.
    ann_followers = f"/api/v1/accounts/{ann.actor.id}/followers"
    assert ids(await client.get(ann_followers)) == []
    assert ids(await client.get(ann_followers, headers=await bearer(ctx, bob))) == []
    assert ids(await client.get(ann_followers, headers=await bearer(ctx, ann))) == [str(bob.actor.id)]


async def test_reblogged_by_and_favourited_by_list_accounts(ctx, client, people):
    ann, bob, eve = people["ann"].actor, people["bob"].actor, people["eve"].actor
    status = await post(ctx, ann, "public news")
    await boost(ctx, bob, status, ann)
    await favourite(ctx, eve, status, ann)
    await favourite(ctx, bob, status, ann)
    assert ids(await client.get(f"/api/v1/statuses/{status.id}/reblogged_by")) == [str(bob.id)]
    assert ids(await client.get(f"/api/v1/statuses/{status.id}/favourited_by")) == [str(bob.id), str(eve.id)]
    hidden = await post(ctx, ann, "followers only", "private")
    assert (await client.get(f"/api/v1/statuses/{hidden.id}/favourited_by")).status_code == 404


@pytest.mark.parametrize("path", [
    "/api/v1/statuses/{id}", "/api/v1/statuses/{id}/context", "/api/v1/accounts/{id}",
    "/api/v1/accounts/{id}/statuses", "/api/v1/accounts/{id}/followers", "/api/v1/statuses/{id}/favourited_by",
])
@pytest.mark.parametrize("bad_id", ["123456789", "abc", "99999999999999999999999", "-1"])
async def test_unknown_and_non_numeric_ids_are_404_record_not_found(client, path, bad_id):
    response = await client.get(path.format(id=bad_id), headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert response.headers["content-type"].startswith("application/json")


async def test_trailing_slashes_are_answered_without_redirect(client):
    for path in ("/api/v1/instance/", "/api/v2/instance/", "/api/v1/timelines/public/", "/api/v1/custom_emojis/"):
        response = await client.get(path)
        assert response.status_code == 200, path


async def test_cors_preflight_and_simple_requests_on_api_oauth_and_discovery(client):
    preflight = await client.options("/api/v1/timelines/home", headers={
        "Origin": "https://elk.zone", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "GET" in preflight.headers["access-control-allow-methods"]
    token_preflight = await client.options("/oauth/token", headers={
        "Origin": "https://phanpy.social", "Access-Control-Request-Method": "POST"})
    assert token_preflight.status_code == 200 and token_preflight.headers["access-control-allow-origin"] == "*"
    for path in ("/api/v1/instance", "/nodeinfo/2.0", "/.well-known/nodeinfo", "/api/v1/statuses/1"):
        response = await client.get(path, headers={"Origin": "https://elk.zone"})
        assert response.headers["access-control-allow-origin"] == "*", path
        assert response.headers.get_list("access-control-allow-origin") == ["*"], path
    exposed = (await client.get("/api/v1/timelines/public")).headers["access-control-expose-headers"]
    assert "Link" in exposed
    page = await client.get("/@nobody", headers={"Origin": "https://elk.zone"})
    assert "access-control-allow-origin" not in page.headers


async def test_fixed_answers_are_empty_lists_for_a_signed_in_person(ctx, client, people):
    headers = await bearer(ctx, people["ann"], ("read",))
    ann_id = people["ann"].actor.id
    for path in ("/api/v1/announcements", "/api/v1/trends/tags", "/api/v1/trends/statuses", "/api/v1/trends/links",
                 "/api/v1/followed_tags", "/api/v1/scheduled_statuses", "/api/v2/suggestions", "/api/v1/filters",
                 "/api/v1/conversations", "/api/v1/lists", f"/api/v1/accounts/{ann_id}/featured_tags",
                 f"/api/v1/accounts/{ann_id}/lists", "/api/v1/custom_emojis", "/api/v1/instance/rules"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 200 and response.json() == [], path
    assert (await client.get("/api/v1/instance/translation_languages")).json() == {}
    assert (await client.get("/api/v1/lists")).status_code == 401
    assert (await client.get("/api/v1/accounts/42/featured_tags")).status_code == 404


async def test_verify_credentials_and_preferences_need_a_token_with_scope(ctx, client, people):
    ann = people["ann"]
    response = await client.get("/api/v1/accounts/verify_credentials", headers=await bearer(ctx, ann))
    assert response.status_code == 200
    assert response.json()["source"]["privacy"] == "private" and response.json()["locked"] is True
    assert response.json()["source"]["follow_requests_count"] == 1  # cy is waiting
    assert (await client.get("/api/v1/accounts/verify_credentials")).status_code == 401
    write_only = await bearer(ctx, ann, ("write",))
    assert (await client.get("/api/v1/accounts/verify_credentials", headers=write_only)).status_code == 403
    prefs = await client.get("/api/v1/preferences", headers=await bearer(ctx, ann))
    assert prefs.json()["posting:default:visibility"] == "private"


async def test_instance_peers_and_activity(ctx, client, people):
    await add_remote_actor(ctx, "rae", "inova.test")
    await add_remote_actor(ctx, "ron", "radboud.test")
    assert (await client.get("/api/v1/instance/peers")).json() == ["inova.test", "radboud.test"]
    await post(ctx, people["ann"].actor, "this week")
    weeks = (await client.get("/api/v1/instance/activity")).json()
    assert len(weeks) == 12
    assert weeks[0]["statuses"] == "1" and weeks[0]["registrations"] == "5"
    assert all(isinstance(week[key], str) for week in weeks for key in week)
    assert int(weeks[0]["week"]) > int(weeks[1]["week"])


async def test_default_pictures_are_served(client):
    instance = (await client.get("/api/v1/instance")).json()
    picture = await client.get(instance["thumbnail"].removeprefix("https://mayo.test"))
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), ("True", True), ("t", True), ("yes", True),
    ("0", False), ("false", False), ("FALSE", False), ("f", False), ("F", False), ("off", False), ("OFF", False),
    ("", False), (None, False),
])
def test_booleans_are_read_like_rails(raw, expected):
    assert rails_bool(raw) is expected


@pytest.fixture
async def quiet_client(ctx, settings, database):
    """A client on an app without background workers, so every statement counted is the request's."""
    async with ctx.database.transaction() as session:
        await ensure_instance_actor(session, ctx.keyring, ctx.urls)
    application = create_app(settings, database=database, run_workers=False)
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url=settings.base_url) as http:
        yield http


async def test_listing_statuses_costs_the_same_number_of_queries_for_few_or_many(ctx, quiet_client, people):
    client = quiet_client
    ann, bob, eve = people["ann"].actor, people["bob"].actor, people["eve"].actor
    headers = await bearer(ctx, people["bob"])
    rae = await add_remote_actor(ctx, "rae")

    async def statements_for_home_page() -> tuple[int, int]:
        with statements_sent(ctx.database) as sent:
            response = await client.get("/api/v1/timelines/home", params={"limit": 40}, headers=headers)
        return len(sent), len(response.json())

    async def add_round(n: int) -> None:
        """Per round: ann's post (tags, mentions, a favourite), bob's reply to it, and bob's
        boost of a post by eve, whom bob does not follow (so the original is loaded apart)."""
        for i in range(n):
            status = await post(ctx, ann, f"post {i} #tag{i}", mentions=(bob, rae), hashtags=(f"tag{i}",))
            await favourite(ctx, bob, status, ann)
            await post(ctx, bob, f"reply {i}", reply_to=status)
            await boost(ctx, bob, await post(ctx, eve, f"eve {i}"), eve)

    await add_round(2)
    few_queries, few = await statements_for_home_page()
    await add_round(10)
    many_queries, many = await statements_for_home_page()
    assert (few, many) == (6, 36)
    assert many_queries == few_queries
    assert many_queries <= 9, many_queries


async def test_a_page_of_plain_posts_asks_only_what_every_page_needs(ctx, quiet_client, people):
    # The token, the page, its authors with their counts, one statement for the counts, replies,
    # tags and which statuses have mentions, media or polls, and one for the viewer's own marks:
    # mentions, media and polls are read only when some status has them.
    for n in range(3):
        await post(ctx, people["ann"].actor, f"plain {n}")
    headers = await bearer(ctx, people["bob"])
    with statements_sent(ctx.database) as sent:
        response = await quiet_client.get("/api/v1/timelines/home", headers=headers)
    assert len(response.json()) == 3
    assert len(sent) == 5, sent

"""The streaming API on one real server (uvicorn on loopback, a real database): server-sent
events and the multiplexed WebSocket carry what the REST API would show, to whom it would
show it, and nothing else; revoked tokens and clients that stop reading are disconnected."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket as sockets

import httpx
import pytest
import websockets
from sqlmodel import select

from storage.events import StreamEvent
from storage.tables import Status
from tests.conftest import add_account
from tests.support.api import bearer, follow, post, remote_post
from tests.support.streams import event_source, serving, socket
from web.auth import revoke_token

EVERYTHING = ("read", "write", "follow")


def plain(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@pytest.fixture
async def people(ctx):
    return {name: await add_account(ctx, name, role="staff") for name in ("ann", "bob", "eve")}


@pytest.fixture
async def tokens(ctx, people):
    return {name: plain(await bearer(ctx, account, EVERYTHING)) for name, account in people.items()}


@pytest.fixture
async def server(app):
    async with serving(app) as base_url:
        yield base_url


async def api(base_url: str, token: str, method: str, path: str, **body) -> dict:
    async with httpx.AsyncClient(base_url=base_url) as client:
        answer = await client.request(method, path, headers={"Authorization": f"Bearer {token}"},
                                      json=body or None)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_health_answers_ok(server):
    async with httpx.AsyncClient(base_url=server) as client:
        answer = await client.get("/api/v1/streaming/health")
    assert answer.status_code == 200 and answer.text == "OK"


async def test_streams_refuse_missing_bad_and_narrow_tokens_and_unknown_channels(ctx, people, server):
    narrow = plain(await bearer(ctx, people["ann"], ("read:notifications",)))
    async with httpx.AsyncClient(base_url=server) as client:
        missing = await client.get("/api/v1/streaming/user")
        bad = await client.get("/api/v1/streaming/user", params={"access_token": "nope"})
        outside = await client.get("/api/v1/streaming/public", headers={"Authorization": f"Bearer {narrow}"})
        unknown = await client.get("/api/v1/streaming/everything", headers={"Authorization": f"Bearer {narrow}"})
        no_tag = await client.get("/api/v1/streaming/hashtag", params={"access_token": narrow})
    assert (missing.status_code, bad.status_code, outside.status_code) == (401, 401, 403)
    assert unknown.status_code == 400 and unknown.json() == {"error": "Unknown channel requested"}
    assert no_tag.status_code == 400 and no_tag.json() == {"error": "No tag for stream provided"}
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with socket(server, "nope"):
            pass
    assert refused.value.response.status_code == 401


async def test_user_stream_carries_followed_posts_as_rest_renders_them(ctx, people, tokens, server):
    await follow(ctx, people["ann"].actor, people["bob"].actor)
    async with event_source(server, "/api/v1/streaming/user", tokens["ann"]) as stream:
        posted = await api(server, tokens["bob"], "POST", "/api/v1/statuses", status="rounds at nine",
                           visibility="private")
        update = await stream.until("update")
        assert stream.comments == [":)"]  # Mastodon's opening comment
        assert update.json == await api(server, tokens["ann"], "GET", f"/api/v1/statuses/{posted['id']}")
        await api(server, tokens["bob"], "PUT", f"/api/v1/statuses/{posted['id']}", status="rounds at ten")
        edited = await stream.until("status.update")
        assert edited.json["id"] == posted["id"] and "ten" in edited.json["content"]
        await api(server, tokens["bob"], "DELETE", f"/api/v1/statuses/{posted['id']}")
        deleted = await stream.until("delete")
        assert deleted.data == posted["id"]


async def test_followers_only_posts_never_reach_non_followers(ctx, people, tokens, server):
    """eve follows nobody: bob's followers-only post is neither in her user stream nor the public one."""
    async with event_source(server, "/api/v1/streaming/user", tokens["eve"]) as home, \
            event_source(server, "/api/v1/streaming/public", tokens["eve"]) as public:
        await post(ctx, people["bob"].actor, "for my followers only", visibility="private")
        await post(ctx, people["eve"].actor, "eve's own public note")
        assert "eve's own" in (await home.next()).json["content"]  # the first and only event
        assert "eve's own" in (await public.next()).json["content"]


async def test_notifications_go_to_user_streams_of_their_recipient(ctx, people, tokens, server):
    mine = await post(ctx, people["ann"].actor, "my first post")
    async with event_source(server, "/api/v1/streaming/user/notification", tokens["ann"]) as notes, \
            event_source(server, "/api/v1/streaming/user/notification", tokens["eve"]) as others:
        await api(server, tokens["bob"], "POST", f"/api/v1/statuses/{mine.id}/favourite")
        await api(server, tokens["bob"], "POST", "/api/v1/statuses", status="@eve hello")  # for eve
        notification = (await notes.next()).json
        assert notification["type"] == "favourite" and notification["account"]["acct"] == "bob"
        listed = (await api(server, tokens["ann"], "GET", "/api/v1/notifications"))[0]
        # The same entity (bob's counts moved on since: he posted again).
        assert notification.pop("account")["id"] == listed.pop("account")["id"] and notification == listed
        assert (await others.next()).json["type"] == "mention"  # eve gets only hers


async def test_blocked_muted_and_filtered_posts_as_in_rest(ctx, people, tokens, server):
    await api(server, tokens["ann"], "POST", f"/api/v1/accounts/{people['bob'].actor.id}/block")
    await api(server, tokens["ann"], "POST", f"/api/v1/accounts/{people['eve'].actor.id}/mute")
    remote = await add_remote_account(ctx)
    for action, keyword in (("warn", "surgery"), ("hide", "gossip")):
        await api(server, tokens["ann"], "POST", "/api/v2/filters", title=keyword, context=["public"],
                  filter_action=action, keywords_attributes=[{"keyword": keyword}])
    async with event_source(server, "/api/v1/streaming/public", tokens["ann"]) as public:
        await post(ctx, people["bob"].actor, "blocked author")
        await post(ctx, people["eve"].actor, "muted author")
        await remote_post(ctx, remote, "some gossip")
        await remote_post(ctx, remote, "surgery went well")
        warned = (await public.next()).json
        assert "surgery" in warned["content"]
        assert [result["filter"]["title"] for result in warned["filtered"]] == ["surgery"]


async def add_remote_account(ctx):
    from tests.conftest import add_remote_actor
    return await add_remote_actor(ctx, "dr_remote")


async def test_filters_changed_on_the_owners_user_stream(ctx, people, tokens, server):
    async with socket(server, tokens["ann"], query="stream=user") as ws:
        await api(server, tokens["ann"], "POST", "/api/v2/filters", title="x", context=["home"],
                  filter_action="warn", keywords_attributes=[{"keyword": "x"}])
        assert await ws.next() == {"stream": ["user"], "event": "filters_changed"}


async def test_a_revoked_token_closes_its_streams(ctx, people, tokens, server):
    async with event_source(server, "/api/v1/streaming/user", tokens["ann"]) as stream, \
            socket(server, protocol_token=tokens["ann"]) as ws:
        assert ws.connection.subprotocol == tokens["ann"]  # echoed, as browsers require
        async with ctx.database.transaction() as session:
            assert await revoke_token(session, tokens["ann"])
        assert await stream.ended()
        with pytest.raises(websockets.ConnectionClosed):
            await ws.next()
    async with httpx.AsyncClient(base_url=server) as client:
        again = await client.get("/api/v1/streaming/user", params={"access_token": tokens["ann"]})
    assert again.status_code == 401


async def test_websocket_multiplexes_subscriptions_with_their_stream_names(ctx, people, tokens, server):
    async with socket(server, tokens["ann"]) as ws:
        await ws.send(type="subscribe", stream="hashtag", tag="Caregivers")
        await ws.send(type="subscribe", stream="public:local")
        await ws.send(type="subscribe", stream="nonsense")
        assert await ws.next() == {"error": "Unknown channel requested", "status": 400}
        tagged = await post(ctx, people["bob"].actor, "#caregivers meet at noon", hashtags=("caregivers",))
        first, second = await ws.next(), await ws.next()
        assert sorted([first["stream"], second["stream"]]) == [["hashtag", "Caregivers"], ["public:local"]]
        assert {first["event"], second["event"]} == {"update"}
        assert json.loads(first["payload"])["id"] == str(tagged.id)
        await ws.send(type="unsubscribe", stream="public:local")
        await ws.send(type="unsubscribe", stream="hashtag", tag="caregivers")
        await ws.send(type="subscribe", stream="user:notification")
        await post(ctx, people["bob"].actor, "#caregivers again", hashtags=("caregivers",))
        await post(ctx, people["bob"].actor, "@ann are you coming?", mentions=(people["ann"].actor,))
        message = await ws.next()  # neither of the unsubscribed streams sent the posts
        assert message["stream"] == ["user:notification"] and message["event"] == "notification"


async def test_a_client_that_stops_reading_is_disconnected_and_others_keep_up(ctx, people, tokens, server, settings):
    """A raw connection with a tiny receive window never reads: the server drops it once it is
    `stream_buffer` events behind, while a reading client gets every event."""
    big = await post(ctx, people["bob"].actor, "x" * 60_000)
    host, port = server.removeprefix("http://").split(":")
    stalled = sockets.socket()
    stalled.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
    stalled.connect((host, int(port)))
    stalled.sendall(f"GET /api/v1/streaming/public?access_token={tokens['eve']} HTTP/1.1\r\n"
                    f"Host: {host}\r\n\r\n".encode())
    hub = ctx.database.events
    async with event_source(server, "/api/v1/streaming/public", tokens["ann"]) as reading:
        async with asyncio.timeout(30):
            while hub.subscriber_count < 2:  # noqa: ASYNC110 - the hub has no event for this; polled briefly
                await asyncio.sleep(0.01)
        sent = 0
        while hub.subscriber_count == 2 and sent < 2_000:
            hub.deliver(StreamEvent("status.updated", big.id))
            sent += 1
            assert (await reading.until("status.update")).json["id"] == str(big.id)
        assert hub.subscriber_count == 1  # the stalled stream was dropped
        assert sent < 2_000
        await post(ctx, people["bob"].actor, "still flowing")
        assert "still flowing" in (await reading.until("update")).json["content"]
    stalled.close()
    async with ctx.database.session() as session:
        assert (await session.exec(select(Status).where(Status.id == big.id))).one()


async def test_direct_stream_carries_conversations_to_those_in_them(ctx, people, tokens, server):
    async with socket(server, tokens["ann"], query="stream=direct") as ann, \
            socket(server, tokens["eve"], query="stream=direct") as eve:
        sent = await post(ctx, people["bob"].actor, "@ann your results", visibility="direct",
                          mentions=(people["ann"].actor,))
        message = await ann.next()
        assert message["stream"] == ["direct"] and message["event"] == "conversation"
        listed = (await api(server, tokens["ann"], "GET", "/api/v1/conversations"))[0]
        conversation = json.loads(message["payload"])
        assert conversation["last_status"]["id"] == str(sent.id)
        assert conversation.pop("accounts")[0]["id"] == listed.pop("accounts")[0]["id"]
        assert conversation.pop("last_status")["id"] == listed.pop("last_status")["id"]
        assert conversation == listed
        await post(ctx, people["eve"].actor, "@bob a question", visibility="direct", mentions=(people["bob"].actor,))
        assert "a question" in json.loads((await eve.next())["payload"])["last_status"]["content"]  # not ann's


async def test_list_stream_is_its_owners_only(ctx, people, tokens, server):
    await follow(ctx, people["ann"].actor, people["bob"].actor)
    created = await api(server, tokens["ann"], "POST", "/api/v1/lists", title="care team")
    await api(server, tokens["ann"], "POST", f"/api/v1/lists/{created['id']}/accounts",
              account_ids=[str(people["bob"].actor.id)])
    async with httpx.AsyncClient(base_url=server) as client:
        foreign = await client.get("/api/v1/streaming/list", params={"list": created["id"],
                                                                     "access_token": tokens["eve"]})
    assert foreign.status_code == 404
    async with socket(server, tokens["ann"]) as ws:
        await ws.send(type="subscribe", stream="list", list=created["id"])
        status = await post(ctx, people["bob"].actor, "on the list", visibility="private")
        message = await ws.next()
        assert message["stream"] == ["list", created["id"]] and json.loads(message["payload"])["id"] == str(status.id)


async def test_disabling_a_login_closes_its_streams(ctx, people, tokens, server):
    async with event_source(server, "/api/v1/streaming/public", tokens["eve"]) as stream:
        async with ctx.database.transaction() as session:
            user = await session.get(type(people["eve"].user), people["eve"].user.id)
            user.disabled = True
            session.add(user)
        assert await stream.ended()


async def test_deletions_reach_only_those_who_could_see_the_post(ctx, people, tokens, server):
    await follow(ctx, people["ann"].actor, people["bob"].actor)
    private = await post(ctx, people["bob"].actor, "followers only", visibility="private")
    async with event_source(server, "/api/v1/streaming/user", tokens["ann"]) as follower, \
            event_source(server, "/api/v1/streaming/public", tokens["eve"]) as stranger:
        await api(server, tokens["bob"], "DELETE", f"/api/v1/statuses/{private.id}")
        assert (await follower.next()).data == str(private.id)
        await post(ctx, people["eve"].actor, "eve's own note")
        assert (await stranger.next()).event == "update"  # the deletion was not hers to hear of


async def test_one_event_many_viewers_each_shown_their_own_view(ctx, people, tokens, server):
    """Streams of one event are rendered together (one query for who sees it, one render for
    all who have no view of their own): each still gets what REST shows them."""
    more = {name: await add_account(ctx, name, role="staff") for name in ("carl", "dee")}
    tokens = tokens | {name: plain(await bearer(ctx, account, EVERYTHING)) for name, account in more.items()}
    bob = people["bob"].actor
    for name in ("ann", "eve", "carl", "dee"):
        await follow(ctx, (people | more)[name].actor, bob)
    posted = await api(server, tokens["bob"], "POST", "/api/v1/statuses", status="handover at seven")
    await api(server, tokens["ann"], "POST", f"/api/v1/statuses/{posted['id']}/favourite")
    await api(server, tokens["ann"], "POST", f"/api/v1/statuses/{posted['id']}/bookmark")
    await api(server, tokens["eve"], "POST", "/api/v2/filters", title="handover", context=["home"],
              filter_action="warn", keywords_attributes=[{"keyword": "handover"}])
    await api(server, tokens["dee"], "POST", f"/api/v1/accounts/{bob.id}/mute")
    names = ("ann", "bob", "eve", "carl", "dee")
    async with contextlib.AsyncExitStack() as streams:
        opened = {name: await streams.enter_async_context(event_source(server, "/api/v1/streaming/user", tokens[name]))
                  for name in names}
        await api(server, tokens["bob"], "PUT", f"/api/v1/statuses/{posted['id']}", status="handover at eight")
        await post(ctx, more["dee"].actor, "dee's own note")  # dee's first event, unless bob's edit reached her
        seen = {name: (await opened[name].until("status.update")).json for name in ("ann", "bob", "eve", "carl")}
        assert "dee's own" in (await opened["dee"].next()).json["content"]
    for name in ("ann", "bob", "carl"):
        assert seen[name] == await api(server, tokens[name], "GET", f"/api/v1/statuses/{posted['id']}"), name
    assert (seen["ann"]["favourited"], seen["ann"]["bookmarked"]) == (True, True)
    assert (seen["carl"]["favourited"], seen["carl"]["bookmarked"]) == (False, False)
    assert [result["filter"]["title"] for result in seen["eve"]["filtered"]] == ["handover"]
    assert seen["carl"]["filtered"] == [] and "eight" in seen["carl"]["content"]

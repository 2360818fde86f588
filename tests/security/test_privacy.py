"""Followers-only and direct posts reach their audience and nobody else, on every route
(checklist F1–F5, F7): ActivityPub GETs and collections, HTML pages, the client API,
streaming, search, and delivery to other instances.

The scene, on three instances: pat at Mayo approves followers by hand. fan (Mayo) and dr_bo
(Inova) are accepted followers; asker (Mayo) and dee (Radboud) asked to follow and are still
pending, which grants nothing. ann (Mayo, staff) asked a public question; pat answers it twice:
once for followers only, once directly to friend (Mayo) and dee. Every check for absence looks for
the post's secret text, its id and its uri in the whole answer, and each route also answers
someone in the audience (or shows a public post), so that no absence holds because the route
shows nothing at all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlmodel import select

from actors.accounts import LocalAccount, find_local_account
from actors.visibility import local_viewer_may_see
from federation.fetch import FetchError
from federation.httpsig import sign_cavage
from storage.tables import Delivery, InboxItem, Mention, Notification, Status
from tests.security.conftest import INOVA, RADBOUD
from tests.security.wire import SECRET, assert_refused, changed, private_key, row_counts
from tests.support import actions
from tests.support.api import bearer, follow
from tests.support.network import Node
from tests.support.streams import serving, socket

AS_JSON = {"Accept": "application/activity+json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml"}
SCOPES = ("read", "write", "follow")
TAG = "oncology"
FOLLOWERS_SECRET = SECRET
DIRECT_SECRET = "MRN-0077 HIV viral load: undetectable"
PUBLIC_TEXT = "Clinic hours move to 8:00"
LOCAL_VIEWERS = ("anonymous", "ann", "asker", "friend", "fan")


@dataclass(frozen=True)
class Post:
    id: str
    uri: str
    secret: str


def leaks(response: httpx.Response, post: Post) -> list[str]:
    """What of `post` the answer (body and paging links) gives away."""
    text = response.text + response.headers.get("link", "")
    return [what for what in (post.secret, post.id, post.uri) if what in text]


def hidden(response: httpx.Response, *posts: Post) -> None:
    for post in posts:
        assert not leaks(response, post), (response.request.url, leaks(response, post), response.text[:500])


def shown(response: httpx.Response, post: Post, *, with_id: bool = True) -> None:
    assert response.status_code == 200, (response.request.url, response.status_code, response.text)
    assert post.secret in response.text, (response.request.url, response.text[:500])
    assert post.id in response.text or not with_id, (response.request.url, response.text[:500])


def refused(response: httpx.Response, *posts: Post) -> None:
    """404 as for a post that does not exist (never 403: existence is not confirmed), echoing nothing."""
    assert_refused(response, 404)
    hidden(response, *posts)


@dataclass
class Scene:
    mayo: Node
    inova: Node
    radboud: Node
    people: dict[str, LocalAccount]
    tokens: dict[str, dict[str, str]]
    question: Post  # ann's public question, which both private posts answer
    public: Post  # pat's public post, pinned: what every public route does show
    followers_only: Post
    direct: Post
    list_id: str  # fan's list, holding pat

    @property
    def audience(self) -> dict[Post, set[str]]:
        """Who on Mayo may see each private post (besides pat)."""
        return {self.followers_only: {"fan"}, self.direct: {"friend"}}

    async def api(self, viewer: str, method: str, path: str, **options: Any) -> httpx.Response:
        return await self.mayo.client.request(method, path, headers=self.tokens[viewer], **options)

    async def publish(self, viewer: str, text: str, visibility: str, **options: Any) -> Post:
        return await publish(self.mayo, self.tokens[viewer], text, visibility, **options)


async def publish(node: Node, token: dict[str, str], text: str, visibility: str, *, reply_to: Post | None = None,
                  secret: str = "") -> Post:
    """Post through the client API, as an app would; `secret` is the part to look for (the text by default)."""
    form = {"status": text, "visibility": visibility} | ({"in_reply_to_id": reply_to.id} if reply_to else {})
    answer = await node.client.post("/api/v1/statuses", headers=token, data=form)
    assert answer.status_code == 200 and answer.json()["visibility"] == visibility, answer.text
    return Post(id=answer.json()["id"], uri=answer.json()["uri"], secret=secret or text)


async def local_account(node: Node, username: str) -> LocalAccount:
    async with node.ctx.database.session() as session:
        found = await find_local_account(session, username)
    assert found is not None
    return found


async def act(node: Node, token: dict[str, str], path: str, **options: Any) -> None:
    answer = await node.client.post(path, headers=token, **options)
    assert answer.status_code == 200, (path, answer.text)


@pytest.fixture
async def scene(network) -> Scene:
    (mayo, inova, radboud), drain = network
    people = {"ann": await local_account(mayo, "ann")}
    people |= {name: await mayo.account(name) for name in ("pat", "fan", "asker", "friend")}
    tokens = {"anonymous": {}} | {name: await bearer(mayo.ctx, person, SCOPES) for name, person in people.items()}
    pat = people["pat"].actor
    assert pat.locked  # members approve their followers
    await follow(mayo.ctx, people["fan"].actor, pat)
    await follow(mayo.ctx, people["asker"].actor, pat, accept=False)
    await actions.follow(inova, "dr_bo", pat.uri)
    await actions.follow(radboud, "dee", pat.uri)
    await drain()
    await actions.approve(mayo, "pat", (await inova.local("dr_bo")).uri)
    await drain()
    dr_bo, dee = (await inova.local("dr_bo")).uri, (await radboud.local("dee")).uri
    assert await actions.follow_state(inova, dr_bo, pat.uri) == "accepted"
    assert await actions.follow_state(mayo, dr_bo, pat.uri) == "accepted"
    assert await actions.follow_state(radboud, dee, pat.uri) == "pending"
    assert await actions.follow_state(mayo, dee, pat.uri) == "pending"
    assert await actions.follow_state(mayo, people["asker"].actor.uri, pat.uri) == "pending"

    question = await publish(mayo, tokens["ann"], f"Any news from the #{TAG} ward?", "public",
                             secret="Any news from the")
    public = await publish(mayo, tokens["pat"], f"{PUBLIC_TEXT} #{TAG}", "public", secret=PUBLIC_TEXT)
    followers_only = await publish(mayo, tokens["pat"], f"{FOLLOWERS_SECRET} #{TAG}", "private",
                                   reply_to=question, secret=FOLLOWERS_SECRET)
    direct = await publish(mayo, tokens["pat"], f"@friend @dee@{RADBOUD} {DIRECT_SECRET} #{TAG}", "direct",
                           reply_to=question, secret=DIRECT_SECRET)
    for post in (public, followers_only):
        await act(mayo, tokens["pat"], f"/api/v1/statuses/{post.id}/pin")
    for viewer, post in (("fan", followers_only), ("friend", direct)):
        await act(mayo, tokens[viewer], f"/api/v1/statuses/{post.id}/favourite")
        await act(mayo, tokens[viewer], f"/api/v1/statuses/{post.id}/bookmark")
    made = await mayo.client.post("/api/v1/lists", headers=tokens["fan"], json={"title": "care team"})
    list_id = made.json()["id"]
    await act(mayo, tokens["fan"], f"/api/v1/lists/{list_id}/accounts", json={"account_ids": [str(pat.id)]})
    await drain()
    return Scene(mayo, inova, radboud, people, tokens, question, public, followers_only, direct, list_id)


# --- on Mayo: the client API, the pages and the streams -----------------------------------

async def test_people_here_see_them_only_when_followers_or_addressed(scene):
    """Everyone on Mayo, signed in or not: each status route, each list of statuses, the
    pages and the streams show the private posts to their audience and to nobody else."""
    await status_routes_answer_only_the_audience(scene)
    await nobody_else_can_act_on_them_or_report_them(scene)
    await listings_show_them_only_to_the_audience(scene)
    await pages_show_nothing_of_them(scene)
    await streams_carry_them_only_to_the_audience(scene)  # last: it posts again


STATUS_READS = ("", "/context", "/favourited_by", "/reblogged_by", "/history")
STATUS_ACTIONS = ("favourite", "reblog", "bookmark", "pin", "mute")


async def status_routes_answer_only_the_audience(scene: Scene) -> None:
    for post, audience in scene.audience.items():
        for viewer in LOCAL_VIEWERS:
            answers = [await scene.api(viewer, "GET", f"/api/v1/statuses/{post.id}{route}") for route in STATUS_READS]
            if viewer in audience:
                shown(answers[0], post)
                shown(answers[4], post, with_id=False)  # its history: versions carry no id
                assert all(answer.status_code == 200 for answer in answers), [answer.text for answer in answers]
                assert viewer in [account["username"] for account in answers[2].json()]  # favourited_by
            else:
                for answer in answers:
                    refused(answer, post)
        shown(await scene.api("pat", "GET", f"/api/v1/statuses/{post.id}"), post)
        shown(await scene.api("pat", "GET", f"/api/v1/statuses/{post.id}/source"), post)


async def nobody_else_can_act_on_them_or_report_them(scene: Scene) -> None:
    before = await row_counts(scene.mayo)
    for post, audience in scene.audience.items():
        for viewer in LOCAL_VIEWERS[1:]:
            if viewer in audience:
                continue
            for action in STATUS_ACTIONS:
                refused(await scene.api(viewer, "POST", f"/api/v1/statuses/{post.id}/{action}"), post)
            refused(await scene.api(viewer, "GET", f"/api/v1/statuses/{post.id}/source"), post)
            # A report naming it is refused just as one naming someone else's post.
            form = {"account_id": str(scene.people["pat"].actor.id), "comment": "see this"}
            mine = await scene.api(viewer, "POST", "/api/v1/reports", data=form | {"status_ids[]": post.id})
            other = await scene.api(viewer, "POST", "/api/v1/reports", data=form | {"status_ids[]": scene.question.id})
            assert mine.status_code == other.status_code == 422
            assert mine.text.replace(post.id, "N") == other.text.replace(scene.question.id, "N")
            assert post.secret not in mine.text and post.uri not in mine.text
    assert changed(before, await row_counts(scene.mayo)) == {}  # nothing favourited, boosted, pinned, reported
    # The fan may favourite the followers-only post (the scene did), not boost it (as Mastodon).
    assert (await scene.api("fan", "POST", f"/api/v1/statuses/{scene.followers_only.id}/reblog")).status_code == 422


async def pages(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: str) -> list[httpx.Response]:
    """Every page of a client-API list, following its `next` links to the end."""
    answers: list[httpx.Response] = []
    url, query = path, params or None
    for _ in range(30):
        answer = await client.get(url, headers=headers, params=query)
        assert answer.status_code == 200, (url, answer.text)
        answers.append(answer)
        if not answer.json() or "next" not in answer.links:
            return answers
        url, query = answer.links["next"]["url"], None  # the link carries the whole query
    raise AssertionError(f"{path} has more than 30 pages")


def one(answers: list[httpx.Response]) -> httpx.Response:
    """Pages as one answer, for `shown` and `hidden`."""
    joined = httpx.Response(200, text="\n".join(answer.text + answer.headers.get("link", "") for answer in answers))
    joined.request = answers[0].request
    return joined


PUBLIC_FEEDS = (("/api/v1/timelines/public", {}), ("/api/v1/timelines/public", {"local": "true"}),
                (f"/api/v1/timelines/tag/{TAG}", {}), (f"/api/v1/timelines/tag/{TAG}", {"local": "1"}))
OWN_LISTS = ("/api/v1/timelines/home", "/api/v1/notifications", "/api/v1/conversations", "/api/v1/favourites",
             "/api/v1/bookmarks")


async def listings_show_them_only_to_the_audience(scene: Scene) -> None:
    pat_id, client = scene.people["pat"].actor.id, scene.mayo.client
    private = (scene.followers_only, scene.direct)
    for viewer in LOCAL_VIEWERS:
        token = scene.tokens[viewer]
        theirs = [post for post in private if viewer in scene.audience[post]]
        others = [post for post in private if post not in theirs]
        # Public feeds, to their last page, carry neither, for anyone; the public post shows they work.
        for path, params in PUBLIC_FEEDS:
            answer = one(await pages(client, path, token, **params))
            shown(answer, scene.public)
            hidden(answer, *private)
        # The author's statuses, a page per post: all, by tag, pinned, without replies.
        statuses = f"/api/v1/accounts/{pat_id}/statuses"
        for params in ({}, {"tagged": TAG}, {"pinned": "true"}, {"exclude_replies": "true"}):
            answer = one(await pages(client, statuses, token, limit="1", **params))
            shown(answer, scene.public)
            hidden(answer, *others)
            if "exclude_replies" in params:
                hidden(answer, *private)  # both answer ann
            elif "pinned" in params:
                hidden(answer, scene.direct)  # direct posts cannot be pinned
                (shown if scene.followers_only in theirs else hidden)(answer, scene.followers_only)
            else:
                for post in theirs:
                    shown(answer, post)
        # The thread of the public question they answer, and its count of replies (as
        # Mastodon: only public and unlisted replies count, so the count gives none away).
        thread = await scene.api(viewer, "GET", f"/api/v1/statuses/{scene.question.id}/context")
        assert thread.status_code == 200
        hidden(thread, *others)
        assert [entity["id"] for entity in thread.json()["descendants"]] == [post.id for post in theirs]
        question = await scene.api(viewer, "GET", f"/api/v1/statuses/{scene.question.id}")
        assert question.json()["replies_count"] == 0, question.text
        hidden(question, *private)
        # Search: by text (no full-text index: nothing), by uri (found by the audience), by tag.
        for text in (FOLLOWERS_SECRET, DIRECT_SECRET, scene.followers_only.uri, scene.direct.uri, f"#{TAG}"):
            params = {"q": text} | ({"resolve": "true"} if viewer != "anonymous" else {})
            answer = await client.get("/api/v2/search", headers=token, params=params)
            assert answer.status_code == 200, answer.text
            hidden(answer, *others)
            for post in theirs:
                (shown if text == post.uri else hidden)(answer, post)
        if viewer == "anonymous":
            continue
        # The viewer's own lists.
        for path in OWN_LISTS:
            answer = one(await pages(client, path, token))
            hidden(answer, *others)
            if path in ("/api/v1/favourites", "/api/v1/bookmarks"):
                for post in theirs:
                    shown(answer, post)
            if path == "/api/v1/timelines/home":
                hidden(answer, scene.direct)  # not even friend's: home is for the people one follows
                (shown if viewer == "fan" else hidden)(answer, scene.followers_only)
    shown(one(await pages(client, "/api/v1/timelines/home", scene.tokens["ann"])), scene.question)  # home works
    # The follower's list holds pat: the followers-only post, not the direct one.
    answer = one(await pages(client, f"/api/v1/timelines/list/{scene.list_id}", scene.tokens["fan"], limit="1"))
    shown(answer, scene.followers_only)
    hidden(answer, scene.direct)
    # The addressee's conversations and notifications: the direct post, not the followers-only one.
    for path in ("/api/v1/conversations", "/api/v1/notifications"):
        answer = one(await pages(client, path, scene.tokens["friend"], limit="1"))
        shown(answer, scene.direct)
        hidden(answer, scene.followers_only)
    # Nor is pat's account a window on them: its count leaves direct posts out (as Mastodon).
    for viewer in LOCAL_VIEWERS:
        account = await scene.api(viewer, "GET", f"/api/v1/accounts/{pat_id}")
        assert account.status_code == 200 and account.json()["statuses_count"] == 2, account.text
        hidden(account, *private)


async def pages_show_nothing_of_them(scene: Scene) -> None:
    """No page lists posts yet (there is no status page or tag page), so this guards the
    day one does: the profile, the front page, and the addresses of the posts themselves."""
    client = scene.mayo.client
    for path in ("/", "/about", "/@pat", "/users/pat", "/@ann", f"/tags/{TAG}",
                 scene.followers_only.uri, scene.direct.uri):
        answer = await client.get(path, headers=BROWSER)
        hidden(answer, scene.followers_only, scene.direct)
        if path in ("/@pat", "/users/pat"):
            assert answer.status_code == 200 and "@pat@mayo.test" in answer.text
        elif path.startswith("https://"):
            assert answer.status_code == 404


CHANNELS = ({"stream": "user"}, {"stream": "public"}, {"stream": "public:local"},
            {"stream": "hashtag", "tag": TAG}, {"stream": "hashtag:local", "tag": TAG}, {"stream": "direct"})
MARKER = "end-of-test marker"


def carried(messages: list[dict[str, Any]], post: Post) -> set[tuple[str, ...]]:
    """The streams (with the event) among `messages` that carried anything of `post`."""
    return {(*message["stream"], message["event"]) for message in messages
            if any(what in message.get("payload", "") for what in (post.secret, post.id, post.uri))}


async def streams_carry_them_only_to_the_audience(scene: Scene) -> None:
    assert (await scene.mayo.client.get("/api/v1/streaming/public")).status_code == 401  # no anonymous streams
    viewers = LOCAL_VIEWERS[1:]
    received: dict[str, list[dict[str, Any]]] = {viewer: [] for viewer in viewers}
    async with serving(scene.mayo.app) as base_url, contextlib.AsyncExitStack() as stack:
        sockets = {}
        for viewer in viewers:
            token = scene.tokens[viewer]["Authorization"].removeprefix("Bearer ")
            sockets[viewer] = ws = await stack.enter_async_context(socket(base_url, token))
            for channel in CHANNELS + (({"stream": "list", "list": scene.list_id},) if viewer == "fan" else ()):
                await ws.send(type="subscribe", **channel)
            await ws.send(type="subscribe", stream="nonsense")
            # Subscriptions are handled in order: once this one is refused, the others are in place.
            assert await ws.next(seconds=60) == {"error": "Unknown channel requested", "status": 400}
        followers_only = await scene.publish("pat", f"{FOLLOWERS_SECRET} again #{TAG}", "private",
                                             secret=f"{FOLLOWERS_SECRET} again")
        direct = await scene.publish("pat", f"@friend {DIRECT_SECRET} again #{TAG}", "direct",
                                     secret=f"{DIRECT_SECRET} again")
        public = await scene.publish("pat", f"{MARKER} #{TAG}", "public", secret=MARKER)
        # Last, a mention of everyone: each user stream ends on its notification, and events
        # reach a stream in order, so all it was ever sent of the private posts is in by then.
        await scene.publish("pat", f"@ann @asker @friend @fan {MARKER}", "direct")
        for viewer, ws in sockets.items():
            while not received[viewer] or not (received[viewer][-1].get("event") == "notification"
                                               and MARKER in received[viewer][-1].get("payload", "")):
                received[viewer].append(await ws.next(seconds=60))  # a bound, not a deadline
    everywhere = {("public", "update"), ("public:local", "update"), ("hashtag", TAG, "update"),
                  ("hashtag:local", TAG, "update")}
    for viewer, messages in received.items():
        assert everywhere <= carried(messages, public), (viewer, messages)  # the public streams work
        if viewer != "fan":
            assert carried(messages, followers_only) == set(), (viewer, messages)
        if viewer != "friend":
            assert carried(messages, direct) == set(), (viewer, messages)
    assert carried(received["fan"], followers_only) == {("user", "update"), ("list", scene.list_id, "update")}
    assert carried(received["friend"], direct) == {("direct", "conversation"), ("user", "notification")}


# --- between instances: ActivityPub GETs, deliveries, what receivers keep and show ---------

async def test_servers_get_them_only_where_a_follower_is_accepted_or_someone_addressed(scene):
    """Inova hosts an accepted follower, Radboud a pending one who is addressed in the direct
    post: each server can fetch, and is sent, exactly the post its people may see."""
    await activitypub_serves_them_only_to_servers_of_the_audience(scene)
    await delivery_reaches_only_servers_of_the_audience(scene)
    await receivers_show_them_only_to_their_audience(scene)
    await private_marks_are_sent_to_no_server(scene)


async def signed_get(signer: Node, username: str, target: Node, url: str) -> httpx.Response:
    """A GET of `url` signed (draft-cavage) with `username`'s key on `signer`."""
    actor = await signer.local(username)
    headers = sign_cavage(method="GET", url=url, body=None, key_id=actor.key_id,
                          private_key=await private_key(signer, username), now=signer.federation.clock())
    return await target.client.get(url, headers=headers | AS_JSON)


async def collection(get: Callable[[str], Awaitable[httpx.Response]], url: str) -> list[httpx.Response]:
    """An OrderedCollection and every page of it, following `first` and `next`."""
    answers = [await get(url)]
    link = answers[0].json().get("first")
    for _ in range(30):
        if not link:
            return answers
        answer = await get(link if isinstance(link, str) else link["id"])
        assert answer.status_code == 200, answer.text
        answers.append(answer)
        link = answer.json().get("next")
    raise AssertionError(f"{url} has more than 30 pages")


async def activitypub_serves_them_only_to_servers_of_the_audience(scene: Scene) -> None:
    mayo = scene.mayo
    signers = {"unsigned": None, INOVA: (scene.inova, "dr_bo"), RADBOUD: (scene.radboud, "dee")}
    allowed = {scene.followers_only: {INOVA}, scene.direct: {RADBOUD}}

    def getter(server: str) -> Callable[[str], Awaitable[httpx.Response]]:
        signer = signers[server]
        if signer is None:
            return lambda url: mayo.client.get(url, headers=AS_JSON)
        return lambda url: signed_get(signer[0], signer[1], mayo, url)

    for post, servers in allowed.items():
        for server in signers:
            for url in (post.uri, f"{post.uri}/activity"):
                answer = await getter(server)(url)
                (shown if server in servers else refused)(answer, post)
    # As a server's own fetcher asks, signed by its instance actor.
    assert (await scene.inova.federation.fetcher.fetch_activity(scene.followers_only.uri))["type"] == "Note"
    assert (await scene.radboud.federation.fetcher.fetch_activity(scene.direct.uri))["type"] == "Note"
    for node, post in ((scene.radboud, scene.followers_only), (scene.inova, scene.direct)):
        with pytest.raises(FetchError, match="404|not found"):
            await node.federation.fetcher.fetch_activity(post.uri)
    # The outbox (every page) and the pinned posts, to anyone, followers' servers included.
    pat = scene.people["pat"].actor
    for server in signers:
        for url in (pat.outbox_uri, f"{pat.uri}/collections/featured"):
            answer = one(await collection(getter(server), url))
            shown(answer, scene.public)  # pinned, as the followers-only post is
            hidden(answer, scene.followers_only, scene.direct)


async def stored_text(node: Node) -> str:
    """Every status and inbox item a receiving instance keeps, as one text to search."""
    async with node.ctx.database.session() as session:
        statuses = (await session.exec(select(Status))).all()
        items = (await session.exec(select(InboxItem))).all()
    return json.dumps([[status.uri, status.content] for status in statuses] + [item.body for item in items])


async def delivery_reaches_only_servers_of_the_audience(scene: Scene) -> None:
    async with scene.mayo.ctx.database.session() as session:
        deliveries = (await session.exec(select(Delivery))).all()
    hosts = {post: {row.host for row in deliveries if row.activity_uri == f"{post.uri}/activity"}
             for post in (scene.followers_only, scene.direct)}
    assert hosts == {scene.followers_only: {INOVA}, scene.direct: {RADBOUD}}
    assert all(row.state == "delivered" for row in deliveries), [(row.host, row.last_error) for row in deliveries]
    # No other activity (a pin, a favourite, an update) carried them elsewhere either.
    for row in deliveries:
        for post, host in ((scene.followers_only, INOVA), (scene.direct, RADBOUD)):
            if row.host != host:
                assert post.secret not in row.body and post.uri not in row.body, (row.host, row.body)
    inova_text, radboud_text = await stored_text(scene.inova), await stored_text(scene.radboud)
    assert FOLLOWERS_SECRET in inova_text and scene.followers_only.uri in inova_text
    assert DIRECT_SECRET not in inova_text and scene.direct.uri not in inova_text
    assert DIRECT_SECRET in radboud_text and scene.direct.uri in radboud_text
    assert FOLLOWERS_SECRET not in radboud_text and scene.followers_only.uri not in radboud_text


async def receivers_show_them_only_to_their_audience(scene: Scene) -> None:
    inova, radboud = scene.inova, scene.radboud
    kept = {"inova": await actions.status_on(inova, scene.followers_only.uri),
            "radboud": await actions.status_on(radboud, scene.direct.uri)}
    assert kept["inova"] is not None and kept["radboud"] is not None
    assert (kept["inova"].visibility, kept["radboud"].visibility) == ("private", "direct")
    on_inova = Post(id=str(kept["inova"].id), uri=scene.followers_only.uri, secret=FOLLOWERS_SECRET)
    on_radboud = Post(id=str(kept["radboud"].id), uri=scene.direct.uri, secret=DIRECT_SECRET)
    tokens = {"anonymous": {}, "dr_bo": await bearer(inova.ctx, await local_account(inova, "dr_bo"), SCOPES),
              "ivy": await bearer(inova.ctx, await inova.account("ivy"), SCOPES)}  # ivy follows nobody
    for viewer, token in tokens.items():
        answer = await inova.client.get(f"/api/v1/statuses/{on_inova.id}", headers=token)
        (shown if viewer == "dr_bo" else refused)(answer, on_inova)
        for path, params in PUBLIC_FEEDS:
            hidden(await inova.client.get(path, headers=token, params=params), on_inova)
        search = await inova.client.get("/api/v2/search", headers=token,
                                        params={"q": on_inova.uri} | ({"resolve": "1"} if token else {}))
        (shown if viewer == "dr_bo" else hidden)(search, on_inova)
    shown(one(await pages(inova.client, "/api/v1/timelines/home", tokens["dr_bo"])), on_inova)
    # dee, addressed, finds the direct post in their conversations and notifications at Radboud.
    dee = await bearer(radboud.ctx, await local_account(radboud, "dee"), SCOPES)
    for path in ("/api/v1/conversations", "/api/v1/notifications"):
        shown(await radboud.client.get(path, headers=dee), on_radboud)
    # A search that fetches from Mayo brings back nothing the searcher's server may not see,
    # and keeps nothing: not for dee (pending), not for dr_bo (a follower, not addressed).
    for node, token, post in ((radboud, dee, scene.followers_only), (inova, tokens["dr_bo"], scene.direct)):
        search = await node.client.get("/api/v2/search", headers=token, params={"q": post.uri, "resolve": "true"})
        assert search.status_code == 200 and search.json()["statuses"] == [], search.text
        assert await actions.status_on(node, post.uri) is None


async def private_marks_are_sent_to_no_server(scene: Scene) -> None:
    """Bookmarks and muted threads are the person's own: marking a post and unmarking it sends
    nothing to their followers' servers (pins, which are public, do: the control)."""
    async with scene.mayo.ctx.database.session() as session:
        before = set((await session.exec(select(Delivery.id))).all())
    for action in ("bookmark", "unbookmark", "mute", "unmute"):
        await act(scene.mayo, scene.tokens["pat"], f"/api/v1/statuses/{scene.question.id}/{action}")
    async with scene.mayo.ctx.database.session() as session:
        assert set((await session.exec(select(Delivery.id))).all()) == before
    await act(scene.mayo, scene.tokens["pat"], f"/api/v1/statuses/{scene.public.id}/unpin")
    async with scene.mayo.ctx.database.session() as session:
        sent = (await session.exec(select(Delivery).where(Delivery.id.not_in(before)))).all()  # type: ignore[union-attr]
    assert [(row.host, json.loads(row.body)["type"]) for row in sent] == [(INOVA, "Remove")]


async def test_a_mention_tag_alone_grants_nothing_beyond_the_addressing(network):
    """F5: a followers-only post that tags ann without addressing her (a hostile or careless
    sender) neither shows her the post nor notifies her; one that addresses her does both."""
    (mayo, inova, _radboud), drain = network
    await mayo.account("fan")
    await inova.account("carol", role="staff")
    carol, ann = f"https://{INOVA}/users/carol", f"https://{mayo.domain}/users/ann"
    await actions.follow(mayo, "fan", carol)  # so that mayo keeps carol's followers-only posts
    await drain()
    inbox = f"https://{mayo.domain}/inbox"
    mention = [{"type": "Mention", "href": ann, "name": "@ann"}]
    for number, cc in ((1, []), (2, [ann])):
        note_id = f"{carol}/statuses/{number}"
        body = json.dumps({
            "@context": "https://www.w3.org/ns/activitystreams", "id": f"{note_id}/activity", "type": "Create",
            "actor": carol, "to": [f"{carol}/followers"], "cc": cc,
            "object": {"id": note_id, "type": "Note", "attributedTo": carol, "content": f"<p>{SECRET}</p>",
                       "to": [f"{carol}/followers"], "cc": cc, "tag": mention}}).encode()
        headers = sign_cavage(method="POST", url=inbox, body=body, key_id=(await inova.local("carol")).key_id,
                              private_key=await private_key(inova, "carol"), now=mayo.federation.clock())
        headers["Content-Type"] = "application/activity+json"
        assert (await mayo.client.post(inbox, content=body, headers=headers)).status_code == 202
    await drain()
    tagged_only, addressed = [await actions.status_on(mayo, f"{carol}/statuses/{n}") for n in (1, 2)]
    ann_id, fan_id = (await mayo.local("ann")).id, (await mayo.local("fan")).id
    async with mayo.ctx.database.session() as session:
        assert tagged_only.visibility == addressed.visibility == "private"
        assert await local_viewer_may_see(session, tagged_only, fan_id)  # the follower: the control
        assert not await local_viewer_may_see(session, tagged_only, ann_id)
        assert await local_viewer_may_see(session, addressed, ann_id)
        notified = (await session.exec(select(Notification.status_id).where(
            Notification.recipient_id == ann_id, Notification.kind == "mention"))).all()
        named = (await session.exec(select(Mention.status_id).where(Mention.actor_uri == ann))).all()
    assert notified == [addressed.id] and named == [addressed.id]

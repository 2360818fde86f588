"""The guarded fetcher against real HTTP servers on loopback.

Peers are tiny Starlette apps served by uvicorn on 127.0.0.1 and 127.0.0.2, each from a
thread of its own for the whole module (a peer notes the requests of the current test). Tests of the
address guard use an injected resolver and, where a "public" peer is needed, a network
backend that stands in for the internet: it records every address a connection is made to
and leads one public address to the loopback peer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpcore
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from federation.fetch import (
    ACCEPT_ACTIVITY,
    Fetcher,
    FetchError,
    FetchGone,
    FetchNotFound,
    FetchRefused,
    FetchUnavailable,
    WebFingerResult,
    address_allowed,
    make_client,
    parse_retry_after,
)
from federation.jsonutil import InvalidJSON, JSONTooDeep, loads_bounded
from federation.vocab import ACTIVITY_JSON, AS_CONTEXT, LD_JSON_PROFILE

USER_AGENT = "Rounds-tests/1.0"
MAX_BYTES = 4096
TOTAL_TIMEOUT = 1.0
PUBLIC = "93.184.216.34"  # a global address; connections to it are led to the loopback peer


# --- the peer ---------------------------------------------------------------------------------


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _document(request: Request, id_: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"@context": AS_CONTEXT, "id": id_ or f"{_base(request)}{request.url.path}", "type": "Person",
            "preferredUsername": "ann", **extra}


def _as(document: Any, media_type: str = ACTIVITY_JSON, **kwargs: Any) -> Response:
    return Response(json.dumps(document), media_type=media_type, **kwargs)


async def actor(request: Request) -> Response:
    return _as(_document(request))


async def ld_actor(request: Request) -> Response:
    return _as(_document(request), LD_JSON_PROFILE)


async def html(request: Request) -> Response:
    return _as(_document(request), "text/html")


async def old_name(request: Request) -> Response:
    return RedirectResponse("/new-name", status_code=301)


async def new_name(request: Request) -> Response:
    return _as(_document(request, f"{_base(request)}/old-name"))


async def mismatch(request: Request) -> Response:
    return _as(_document(request, f"{_base(request)}/users/someone-else"))


async def foreign(request: Request) -> Response:
    return _as(_document(request, "https://elsewhere.example/users/ann"))


async def redirect(request: Request) -> Response:
    headers = {"Connection": "close"} if "close" in request.query_params else None
    return RedirectResponse(request.query_params["to"], status_code=302, headers=headers)


async def loop(request: Request) -> Response:
    return RedirectResponse("/loop", status_code=301)


async def chain(request: Request) -> Response:
    left = int(request.path_params["left"])
    return RedirectResponse(f"/chain/{left - 1}" if left else "/actor", status_code=307)


async def big(request: Request) -> Response:
    return _as(_document(request, padding="x" * (MAX_BYTES * 3)))


async def big_stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"padding": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    return StreamingResponse(chunks(), media_type=ACTIVITY_JSON)


async def trickle(request: Request) -> Response:
    async def slowly() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" "
            await asyncio.sleep(0.1)

    return StreamingResponse(slowly(), media_type=ACTIVITY_JSON)


async def status(request: Request) -> Response:
    retry_after = request.query_params.get("retry-after")
    headers = {"Retry-After": retry_after} if retry_after else {}
    return Response("no", status_code=int(request.path_params["code"]), headers=headers)


async def deep(request: Request) -> Response:
    return Response(b'{"id": "x", "a": ' + b"[" * 1000 + b"]" * 1000 + b"}", media_type=ACTIVITY_JSON)


async def invalid(request: Request) -> Response:
    return Response(b'{"id": ', media_type=ACTIVITY_JSON)


async def array(request: Request) -> Response:
    return _as([_document(request)])


async def no_id(request: Request) -> Response:
    return _as({"@context": AS_CONTEXT, "type": "Note"})


async def nodeinfo(request: Request) -> Response:
    document = {"version": "2.1", "software": {"name": "peer"}}
    return Response(json.dumps(document), media_type="application/json")


async def webfinger(request: Request) -> Response:
    resource = request.query_params.get("resource", "")
    user, _, host = resource.removeprefix("acct:").partition("@")
    if host != request.url.netloc:
        return Response(status_code=404)
    base = _base(request)
    links: Any = [
        {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": f"{base}/@{user}"},
        {"rel": "self", "type": ACTIVITY_JSON, "href": f"{base}/users/{user}"},
    ]
    if user == "ldjson":
        links[1]["type"] = LD_JSON_PROFILE
    elif user == "plainld":  # ld+json without the ActivityStreams profile is some other kind of document
        links[1]["type"] = "application/ld+json"
    elif user == "nolink":
        links = links[:1]
    elif user == "ftp":
        links[1]["href"] = "ftp://files.example/ann"
    elif user == "broken":
        links = "self"
    elif user != "ann" and user != "ldjson":
        return Response(status_code=404)
    return Response(json.dumps({"subject": resource, "links": links}), media_type="application/jrd+json")


ROUTES = [
    Route("/actor", actor), Route("/users/{name}", actor), Route("/ld-actor", ld_actor),
    Route("/html", html), Route("/mismatch", mismatch), Route("/foreign", foreign),
    Route("/old-name", old_name), Route("/new-name", new_name),
    Route("/redirect", redirect), Route("/loop", loop), Route("/chain/{left}", chain),
    Route("/big", big), Route("/big-stream", big_stream), Route("/trickle", trickle),
    Route("/status/{code}", status), Route("/deep", deep), Route("/invalid", invalid),
    Route("/array", array), Route("/no-id", no_id), Route("/nodeinfo", nodeinfo),
    Route("/.well-known/webfinger", webfinger),
]


@dataclass
class Seen:
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Peer:
    host: str
    port: int
    requests: list[Seen] = field(default_factory=list)

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    @property
    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]


class Recording:
    """ASGI: notes each request the peer receives, then lets the app answer it."""

    def __init__(self, app: Starlette, peer: Peer) -> None:
        self.app = app
        self.peer = peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
            self.peer.requests.append(Seen(scope["path"], scope["query_string"].decode(), headers))
        await self.app(scope, receive, send)


def serve_peer(host: str) -> Iterator[Peer]:
    """Serve the peer app on `host` from a thread of its own, so one server lasts the module."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    peer = Peer(host, sock.getsockname()[1])
    config = uvicorn.Config(Recording(Starlette(routes=ROUTES), peer), lifespan="off", log_level="warning",
                            access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"the peer on {host} did not start"
        time.sleep(0.005)
    yield peer
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def running_peer() -> Iterator[Peer]:
    yield from serve_peer("127.0.0.1")


@pytest.fixture(scope="module")
def running_other_peer() -> Iterator[Peer]:
    yield from serve_peer("127.0.0.2")


@pytest.fixture
def peer(running_peer: Peer) -> Peer:
    """The peer on 127.0.0.1, with only this test's requests noted."""
    running_peer.requests.clear()
    return running_peer


@pytest.fixture
def other_peer(running_other_peer: Peer) -> Peer:
    """The peer on 127.0.0.2, with only this test's requests noted."""
    running_other_peer.requests.clear()
    return running_other_peer


@pytest.fixture
async def open_client() -> AsyncIterator[httpx.AsyncClient]:
    """A client allowed to reach loopback, as tests need to reach their peers."""
    async with make_client(allow_private_addresses=True, user_agent=USER_AGENT, timeout=2.0) as client:
        yield client


@pytest.fixture
def fetcher(open_client: httpx.AsyncClient) -> Fetcher:
    return Fetcher(open_client, max_bytes=MAX_BYTES, total_timeout=TOTAL_TIMEOUT)


# --- documents --------------------------------------------------------------------------------


async def test_actor_document_that_names_its_own_url_is_returned(fetcher: Fetcher, peer: Peer) -> None:
    document = await fetcher.fetch_activity(peer.url("/actor"))
    assert document["id"] == peer.url("/actor")
    assert document["preferredUsername"] == "ann"
    assert peer.requests[0].headers["accept"] == ACCEPT_ACTIVITY
    assert peer.requests[0].headers["user-agent"] == USER_AGENT


async def test_ld_json_with_the_activitystreams_profile_is_accepted(fetcher: Fetcher, peer: Peer) -> None:
    assert (await fetcher.fetch_activity(peer.url("/ld-actor")))["id"] == peer.url("/ld-actor")


async def test_fragment_of_the_url_is_ignored_when_matching_the_id(fetcher: Fetcher, peer: Peer) -> None:
    document = await fetcher.fetch_activity(peer.url("/actor#main-key"))
    assert document["id"] == peer.url("/actor")


async def test_document_served_as_html_is_refused(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchRefused, match="content type"):
        await fetcher.fetch_activity(peer.url("/html"))


async def test_document_naming_another_path_on_the_same_host_is_refused(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchRefused, match="does not match"):
        await fetcher.fetch_activity(peer.url("/mismatch"))


async def test_document_whose_id_is_on_another_host_is_refused(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchRefused, match="is not on host 127.0.0.1") as refused:
        await fetcher.fetch_activity(peer.url("/foreign"))
    assert refused.value.url == peer.url("/foreign")


@pytest.mark.parametrize(("path", "reason"), [
    ("/deep", "nested deeper"),
    ("/invalid", "not valid JSON"),
    ("/array", "not an object with an id"),
    ("/no-id", "not an object with an id"),
])
async def test_unusable_json_is_refused(fetcher: Fetcher, peer: Peer, path: str, reason: str) -> None:
    with pytest.raises(FetchRefused, match=reason):
        await fetcher.fetch_activity(peer.url(path))


async def test_signed_fetch_signs_every_hop_again(open_client: httpx.AsyncClient, peer: Peer) -> None:
    signed: list[tuple[str, str]] = []

    def sign(method: str, url: str) -> dict[str, str]:
        signed.append((method, url))
        return {"Signature": f'keyId="instance",target="{url}"'}

    fetcher = Fetcher(open_client, sign=sign)
    await fetcher.fetch_activity(peer.url("/redirect?to=/actor"))
    assert signed == [("GET", peer.url("/redirect?to=/actor")), ("GET", peer.url("/actor"))]
    assert [seen.headers["signature"] for seen in peer.requests] == [
        f'keyId="instance",target="{url}"' for _method, url in signed]


# --- redirects --------------------------------------------------------------------------------


async def test_same_host_redirect_is_followed_and_the_final_url_is_the_id(
        fetcher: Fetcher, peer: Peer) -> None:
    document = await fetcher.fetch_activity(peer.url("/redirect?to=/actor"))
    assert document["id"] == peer.url("/actor")
    assert peer.paths == ["/redirect", "/actor"]


async def test_after_a_redirect_a_document_naming_the_first_url_is_refused(
        fetcher: Fetcher, peer: Peer) -> None:
    # /old-name redirects to /new-name, whose document still names itself /old-name.
    with pytest.raises(FetchRefused, match="does not match"):
        await fetcher.fetch_activity(peer.url("/old-name"))
    assert peer.paths == ["/old-name", "/new-name"]


async def test_cross_host_redirect_is_refused_before_the_other_host_is_asked(
        fetcher: Fetcher, peer: Peer, other_peer: Peer) -> None:
    with pytest.raises(FetchRefused, match="another host"):
        await fetcher.fetch_activity(peer.url(f"/redirect?to={other_peer.url('/actor')}"))
    assert other_peer.requests == []


async def test_redirect_to_another_scheme_or_port_is_refused(fetcher: Fetcher, peer: Peer) -> None:
    for target in (f"https://127.0.0.1:{peer.port}/actor", "http://127.0.0.1:1/actor"):
        with pytest.raises(FetchRefused, match="another host"):
            await fetcher.fetch_activity(peer.url(f"/redirect?to={target}"))
    assert peer.paths == ["/redirect", "/redirect"]


async def test_redirect_loop_stops_after_max_redirects(open_client: httpx.AsyncClient, peer: Peer) -> None:
    fetcher = Fetcher(open_client, max_redirects=3)
    with pytest.raises(FetchRefused, match="More than 3 redirects"):
        await fetcher.fetch_activity(peer.url("/loop"))
    assert peer.paths == ["/loop"] * 4


async def test_redirect_chain_within_the_limit_is_followed(
        open_client: httpx.AsyncClient, peer: Peer) -> None:
    fetcher = Fetcher(open_client, max_redirects=3)
    assert (await fetcher.fetch_activity(peer.url("/chain/2")))["id"] == peer.url("/actor")
    with pytest.raises(FetchRefused, match="redirects"):
        await fetcher.fetch_activity(peer.url("/chain/3"))


# --- size and time ----------------------------------------------------------------------------


async def test_body_declared_larger_than_max_bytes_is_refused(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchRefused, match=f"larger than {MAX_BYTES} bytes"):
        await fetcher.fetch_activity(peer.url("/big"))


async def test_streamed_body_without_length_is_cut_off_at_max_bytes(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchRefused, match=f"larger than {MAX_BYTES} bytes"):
        await fetcher.fetch_activity(peer.url("/big-stream"))


async def test_slow_trickle_is_cut_off_by_the_total_timeout(fetcher: Fetcher, peer: Peer) -> None:
    started = time.monotonic()
    with pytest.raises(FetchUnavailable, match="longer than 1 s"):
        await fetcher.fetch_activity(peer.url("/trickle"))
    assert TOTAL_TIMEOUT <= time.monotonic() - started < TOTAL_TIMEOUT + 1


# --- statuses ---------------------------------------------------------------------------------


async def test_404_is_not_found_and_410_is_gone(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchNotFound) as missing:
        await fetcher.fetch_activity(peer.url("/status/404"))
    assert not isinstance(missing.value, FetchGone)
    with pytest.raises(FetchGone, match="410"):
        await fetcher.fetch_activity(peer.url("/status/410"))


async def test_server_error_is_unavailable_without_retry_after(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchUnavailable, match="500") as unavailable:
        await fetcher.fetch_activity(peer.url("/status/500"))
    assert unavailable.value.retry_after is None


async def test_429_is_unavailable_with_retry_after_seconds(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchUnavailable, match="429") as unavailable:
        await fetcher.fetch_activity(peer.url("/status/429?retry-after=120"))
    assert unavailable.value.retry_after == 120.0


async def test_503_with_retry_after_date_is_unavailable_until_then(fetcher: Fetcher, peer: Peer) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    with pytest.raises(FetchUnavailable) as unavailable:
        await fetcher.fetch_activity(peer.url(f"/status/503?retry-after={later}"))
    assert unavailable.value.retry_after is not None and 85 <= unavailable.value.retry_after <= 90


async def test_forbidden_answer_is_refused(fetcher: Fetcher, peer: Peer) -> None:
    with pytest.raises(FetchRefused, match="403"):
        await fetcher.fetch_activity(peer.url("/status/403"))


async def test_closed_port_is_unavailable(fetcher: Fetcher) -> None:
    with pytest.raises(FetchUnavailable, match="Cannot connect"):
        await fetcher.fetch_activity("http://127.0.0.1:1/actor")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/actor", "file:///etc/passwd", "http://user:pw@127.0.0.1/a",
                                 "not a url", "http:///nohost"])
async def test_urls_that_are_not_plain_http_are_refused(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FetchRefused):
        await fetcher.fetch_activity(url)


# --- plain JSON and WebFinger ------------------------------------------------------------------


async def test_fetch_json_reads_nodeinfo_unsigned_with_the_accept_asked(open_client: httpx.AsyncClient,
                                                                         peer: Peer) -> None:
    fetcher = Fetcher(open_client, sign=lambda method, url: {"Signature": "x"})
    answer = await fetcher.fetch_json(peer.url("/nodeinfo"), accept="application/json; profile=nodeinfo")
    assert answer["version"] == "2.1"
    assert peer.requests[0].headers["accept"] == "application/json; profile=nodeinfo"
    assert "signature" not in peer.requests[0].headers


async def test_fetch_json_refuses_cross_host_redirects(
        fetcher: Fetcher, peer: Peer, other_peer: Peer) -> None:
    with pytest.raises(FetchRefused, match="another host"):
        await fetcher.fetch_json(peer.url(f"/redirect?to={other_peer.url('/nodeinfo')}"))
    assert other_peer.requests == []


async def test_webfinger_finds_the_actor_and_profile_page(fetcher: Fetcher, peer: Peer) -> None:
    host = f"127.0.0.1:{peer.port}"
    result = await fetcher.webfinger(f"ann@{host}", scheme="http")
    assert result == WebFingerResult(subject=f"acct:ann@{host}", actor_url=peer.url("/users/ann"),
                                     profile_url=peer.url("/@ann"))
    assert peer.requests[0].path == "/.well-known/webfinger"
    assert peer.requests[0].query == f"resource=acct:ann@{host}"
    assert peer.requests[0].headers["accept"] == "application/jrd+json, application/json"


async def test_webfinger_accepts_acct_uri_and_ld_json_self_link(fetcher: Fetcher, peer: Peer) -> None:
    result = await fetcher.webfinger(f"acct:ldjson@127.0.0.1:{peer.port}", scheme="http")
    assert result.actor_url == peer.url("/users/ldjson")


@pytest.mark.parametrize("user", ["nobody", "nolink", "plainld"])
async def test_webfinger_without_an_activitypub_actor_is_not_found(
        fetcher: Fetcher, peer: Peer, user: str) -> None:
    with pytest.raises(FetchNotFound):
        await fetcher.webfinger(f"{user}@127.0.0.1:{peer.port}", scheme="http")


@pytest.mark.parametrize("user", ["ftp", "broken"])
async def test_webfinger_with_a_malformed_answer_is_refused(fetcher: Fetcher, peer: Peer, user: str) -> None:
    with pytest.raises(FetchRefused):
        await fetcher.webfinger(f"{user}@127.0.0.1:{peer.port}", scheme="http")


@pytest.mark.parametrize("handle", ["ann", "@127.0.0.1", "ann@", "ann@host/path", "ann@host?x", "a b@host"])
async def test_malformed_handle_is_refused_without_a_request(fetcher: Fetcher, handle: str) -> None:
    with pytest.raises(FetchRefused, match="user@host"):
        await fetcher.webfinger(handle)


# --- the address guard ------------------------------------------------------------------------


class Internet(httpcore.AnyIOBackend):
    """Stands in for the internet: notes every address connected to; PUBLIC leads to loopback."""

    def __init__(self) -> None:
        self.connects: list[str] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        self.connects.append(host)
        if host != PUBLIC:
            raise httpcore.ConnectError(f"{host} is unreachable from the test network")
        return await super().connect_tcp("127.0.0.1", port, timeout, local_address, socket_options)


class Dns:
    """A resolver answering from a table; a name with several answers gives the next on each call."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = self.answers[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


Guarded = Callable[[Dns, Internet], Fetcher]


@pytest.fixture
async def guarded() -> AsyncIterator[Guarded]:
    """Makes fetchers on new guarded clients (so each starts without pooled connections)."""
    clients: list[httpx.AsyncClient] = []

    def make(dns: Dns, internet: Internet) -> Fetcher:
        clients.append(make_client(allow_private_addresses=False, user_agent=USER_AGENT, resolver=dns,
                                   network_backend=internet, timeout=2.0))
        return Fetcher(clients[-1], total_timeout=3.0)

    yield make
    for client in clients:
        await client.aclose()


@dataclass
class Listener:
    port: int
    connections: int = 0


@pytest.fixture
async def tcp_listener() -> AsyncIterator[Listener]:
    """A bare TCP server on loopback that counts the connections made to it and closes them."""
    counted = Listener(port=0)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counted.connections += 1
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    counted.port = server.sockets[0].getsockname()[1]
    async with server:
        yield counted


async def test_loopback_is_refused_without_any_connection(tcp_listener: Listener) -> None:
    async with make_client(allow_private_addresses=False, user_agent=USER_AGENT) as client:
        for url in (f"http://127.0.0.1:{tcp_listener.port}/actor", f"http://localhost:{tcp_listener.port}/actor"):
            with pytest.raises(FetchRefused, match="non-public address"):
                await Fetcher(client).fetch_activity(url)
    assert tcp_listener.connections == 0


async def test_loopback_is_reached_when_private_addresses_are_allowed(tcp_listener: Listener) -> None:
    # The control for the test above: the same fetch, allowed, does connect.
    async with make_client(allow_private_addresses=True, user_agent=USER_AGENT) as client:
        with pytest.raises(FetchUnavailable):
            await Fetcher(client).fetch_activity(f"http://127.0.0.1:{tcp_listener.port}/actor")
    assert tcp_listener.connections == 1


async def test_loopback_peer_is_refused_and_sees_no_request(peer: Peer) -> None:
    async with make_client(allow_private_addresses=False, user_agent=USER_AGENT) as client:
        with pytest.raises(FetchRefused):
            await Fetcher(client).fetch_activity(peer.url("/actor"))
        with pytest.raises(FetchRefused):
            await Fetcher(client).webfinger(f"ann@127.0.0.1:{peer.port}", scheme="http")
    assert peer.requests == []


async def test_ipv6_loopback_literal_is_refused() -> None:
    async with make_client(allow_private_addresses=False, user_agent=USER_AGENT) as client:
        with pytest.raises(FetchRefused, match=r"non-public address \(::1\)"):
            await Fetcher(client).fetch_json("http://[::1]:9/nodeinfo")


FORBIDDEN = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
             "::1", "::", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1"]


@pytest.mark.parametrize("address", FORBIDDEN)
async def test_name_resolving_to_a_forbidden_address_is_refused_without_connecting(
        peer: Peer, address: str, guarded: Guarded) -> None:
    internet = Internet()
    fetcher = guarded(Dns({"victim.test": [[address]]}), internet)
    with pytest.raises(FetchRefused, match="non-public address"):
        await fetcher.fetch_activity(peer.url("/actor", host="victim.test"))
    assert internet.connects == []
    assert peer.requests == []


async def test_name_resolving_to_public_and_private_addresses_is_refused(
        peer: Peer, guarded: Guarded) -> None:
    internet = Internet()
    fetcher = guarded(Dns({"mixed.test": [[PUBLIC, "10.0.0.7"]]}), internet)
    with pytest.raises(FetchRefused, match=r"non-public address \(10.0.0.7\)"):
        await fetcher.fetch_activity(peer.url("/actor", host="mixed.test"))
    assert internet.connects == []


async def test_public_address_is_connected_to_with_the_name_kept_for_host(
        peer: Peer, guarded: Guarded) -> None:
    internet = Internet()
    fetcher = guarded(Dns({"public.test": [[PUBLIC]]}), internet)
    document = await fetcher.fetch_activity(peer.url("/actor", host="public.test"))
    assert document["id"] == peer.url("/actor", host="public.test")
    assert internet.connects == [PUBLIC]
    assert peer.requests[0].headers["host"] == f"public.test:{peer.port}"


async def test_dns_rebinding_to_loopback_never_reaches_loopback(
        peer: Peer, guarded: Guarded) -> None:
    # "localhost": if anything resolved the name again to connect, it would reach the peer.
    dns = Dns({"localhost": [[PUBLIC], ["127.0.0.1"]]})
    internet = Internet()
    first = await guarded(dns, internet).fetch_activity(peer.url("/actor", host="localhost"))
    assert first["id"] == peer.url("/actor", host="localhost")
    with pytest.raises(FetchRefused, match=r"non-public address \(127.0.0.1\)"):
        await guarded(dns, internet).fetch_activity(peer.url("/actor", host="localhost"))
    assert dns.asked == ["localhost", "localhost"]
    assert internet.connects == [PUBLIC]
    assert len(peer.requests) == 1


async def test_redirect_from_a_public_host_to_a_loopback_address_is_refused(
        peer: Peer, guarded: Guarded) -> None:
    internet = Internet()
    fetcher = guarded(Dns({"public.test": [[PUBLIC]]}), internet)
    with pytest.raises(FetchRefused, match="another host"):
        await fetcher.fetch_activity(peer.url(f"/redirect?to={peer.url('/actor')}", host="public.test"))
    assert peer.paths == ["/redirect"]
    assert internet.connects == [PUBLIC]


async def test_each_redirect_hop_is_checked_again_when_it_needs_a_new_connection(
        peer: Peer, guarded: Guarded) -> None:
    # The peer closes the connection after the redirect; by then the name resolves privately.
    dns = Dns({"public.test": [[PUBLIC], ["192.168.0.10"]]})
    internet = Internet()
    url = peer.url("/redirect?to=/actor&close=1", host="public.test")
    with pytest.raises(FetchRefused, match=r"non-public address \(192.168.0.10\)"):
        await guarded(dns, internet).fetch_activity(url)
    assert peer.paths == ["/redirect"]
    assert internet.connects == [PUBLIC]


async def test_unknown_name_is_unavailable(peer: Peer, guarded: Guarded) -> None:
    with pytest.raises(FetchUnavailable, match="Cannot look up"):
        await guarded(Dns({}), Internet()).fetch_activity(peer.url("/actor", host="nowhere.test"))


async def test_proxy_settings_from_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch,
                                                              tcp_listener: Listener, peer: Peer) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{tcp_listener.port}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{tcp_listener.port}")
    async with make_client(allow_private_addresses=True, user_agent=USER_AGENT) as client:
        assert (await Fetcher(client).fetch_activity(peer.url("/actor")))["id"] == peer.url("/actor")
    assert tcp_listener.connections == 0


@pytest.mark.parametrize("address", FORBIDDEN + [
    "224.0.0.1", "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.2.1", "192.0.0.8", "ff02::1", "fec0::1",
    "2001:db8::1", "2001::1", "64:ff9b:1::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:c0a8:101::1",
    "fe80::1%eth0", "not-an-address", "",
])
def test_address_allowed_refuses_non_public_addresses(address: str) -> None:
    assert address_allowed(address) is False


@pytest.mark.parametrize("address", [
    "93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001::1",
    "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
])
def test_address_allowed_accepts_public_unicast(address: str) -> None:
    assert address_allowed(address) is True


# --- small pieces -----------------------------------------------------------------------------


def test_retry_after_is_read_as_seconds_or_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_errors_share_a_base_and_name_the_url() -> None:
    error = FetchUnavailable("https://peer.example/a", "The server answered 503.", 5.0)
    assert isinstance(error, FetchError)
    assert (error.url, error.retry_after, str(error)) == (
        "https://peer.example/a", 5.0, "The server answered 503. (https://peer.example/a)")


def test_hundred_thousand_deep_json_is_refused_fast() -> None:
    started = time.monotonic()
    with pytest.raises(JSONTooDeep):
        loads_bounded(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InvalidJSON):  # never closed: malformed, and still not parsed recursively
        loads_bounded(b"[" * 100_000)
    with pytest.raises(JSONTooDeep):
        loads_bounded(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    assert time.monotonic() - started < 1.0


def test_json_depth_limit_is_exact_and_ignores_brackets_in_strings() -> None:
    assert loads_bounded(b"[" * 32 + b"]" * 32) is not None
    with pytest.raises(JSONTooDeep):
        loads_bounded(b"[" * 33 + b"]" * 33)
    assert loads_bounded(b'{"a": "[[[[\\"{{{{", "b": [1]}', max_depth=2) == {"a": '[[[["{{{{', "b": [1]}


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"a": NaN}', b"{", b"", b'{"a": 1} x', b"[1]]"])
def test_invalid_json_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidJSON):
        loads_bounded(raw)

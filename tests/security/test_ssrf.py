"""Server-side request forgery: no outbound request reaches a non-public address
(checklist C1, C2, C3, C4, C5).

The guarded client is the real one (`make_client`); the seams are a resolver answering from
a table and a network backend that records every address a connection is attempted to and
connects nowhere. Loopback spellings are also tried with the system resolver against a real
listener that counts connections.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import httpcore
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.accounts import ensure_instance_actor
from federation.fetch import Fetcher, FetchError, FetchRefused, FetchUnavailable, address_allowed, make_client
from federation.keys import generate_rsa_key
from storage.engine import Database
from tests.conftest import make_settings
from tests.security.wire import assert_refused, cavage, changed, create, row_counts
from web.app import create_app

PUBLIC = "93.184.216.34"
FORBIDDEN_LITERALS = ["127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.0.1", "169.254.169.254", "0.0.0.0",
                      "100.64.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
                      "::ffff:169.254.169.254", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1"]


class Recorder(httpcore.AsyncNetworkBackend):
    """The test network: notes each address a connection is attempted to, and reaches none."""

    def __init__(self) -> None:
        self.connects: list[str] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None, socket_options: Any = None) -> Any:
        self.connects.append(host)
        raise httpcore.ConnectError(f"nothing listens at {host} in the test network")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Any = None) -> Any:
        raise AssertionError("no unix socket is ever connected to")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Dns:
    """Answers from a table; a name with several answers gives the next one on each look-up."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers

    async def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        queue = self.answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


# --- the address rule ---------------------------------------------------------------------------

SPECIAL_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
              "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
              "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SPECIAL_V4).flatmap(lambda block: st.ip_addresses(v=4, network=block)))
def test_every_address_of_a_special_ipv4_block_is_refused_in_every_ipv6_disguise(ip):
    packed = int(ip)
    disguises = [str(ip), f"::ffff:{ip}", str(ipaddress.IPv6Address((0x64FF9B << 96) | packed)),
                 str(ipaddress.IPv6Address((0x2002 << 112) | (packed << 80)))]
    assert [address_allowed(form) for form in disguises] == [False] * 4


@settings(max_examples=60, deadline=None)
@given(st.ip_addresses(v=4))
def test_an_ipv4_address_and_its_ipv6_embeddings_get_one_answer(ip):
    packed = int(ip)
    answer = address_allowed(str(ip))
    assert address_allowed(f"::ffff:{ip}") is answer
    assert address_allowed(str(ipaddress.IPv6Address((0x64FF9B << 96) | packed))) is answer
    assert address_allowed(str(ipaddress.IPv6Address((0x2002 << 112) | (packed << 80)))) is answer


@settings(max_examples=60, deadline=None)
@given(st.ip_addresses(v=6))
def test_ipv6_outside_global_unicast_is_refused(ip):
    if ip in ipaddress.IPv6Network("2000::/3") or ip.ipv4_mapped or ip in ipaddress.IPv6Network("64:ff9b::/96"):
        return
    assert address_allowed(str(ip)) is False


# --- the guarded client -------------------------------------------------------------------------

@pytest.fixture
async def guarded():
    clients = []

    def make(dns: Dns, network: Recorder) -> Fetcher:
        clients.append(make_client(allow_private_addresses=False, user_agent="Rounds-security-tests",
                                   resolver=dns, network_backend=network, timeout=2.0))
        return Fetcher(clients[-1], total_timeout=3.0)

    yield make
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize("address", FORBIDDEN_LITERALS)
async def test_forbidden_address_is_refused_by_literal_or_by_name_without_a_connection(guarded, address):
    network = Recorder()
    fetcher = guarded(Dns({"victim.test": [[address]]}), network)
    for url in (f"http://{_bracketed(address)}/actor", "https://victim.test/actor"):
        with pytest.raises(FetchRefused, match="non-public address"):
            await fetcher.fetch_activity(url)
    assert network.connects == []


async def test_answer_that_changes_between_look_ups_is_checked_where_it_connects(guarded):
    # DNS rebinding: public to the first look-up, loopback to the next.
    dns, network = Dns({"rebind.test": [[PUBLIC], ["127.0.0.1"]]}), Recorder()
    fetcher = guarded(dns, network)
    with pytest.raises(FetchUnavailable):
        await fetcher.fetch_activity("https://rebind.test/actor")
    with pytest.raises(FetchRefused, match="non-public address"):
        await fetcher.fetch_activity("https://rebind.test/actor")
    assert network.connects == [PUBLIC]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "ftp://inova.test/",
                                 "data:application/activity+json,{}", "javascript:alert(1)",
                                 "https://user:pw@inova.test/actor", "unix:///var/run/docker.sock"])
async def test_urls_that_are_not_plain_http_are_refused_without_a_look_up(guarded, url):
    network = Recorder()
    with pytest.raises(FetchRefused):
        await guarded(Dns({}), network).fetch_activity(url)
    assert network.connects == []


@pytest.fixture
async def listener():
    connections = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], connections


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0x7f.1", "127.1", "0177.0.0.1", "017700000001",
                                  "localhost", "LOCALHOST.", "127.0.0.1.nip.io.invalid", "[::ffff:7f00:1]",
                                  "[0:0:0:0:0:ffff:127.0.0.1]"])
async def test_other_spellings_of_loopback_never_connect(listener, host):
    port, connections = listener
    async with make_client(allow_private_addresses=False, user_agent="Rounds-security-tests") as client:
        with pytest.raises(FetchError):
            await Fetcher(client, total_timeout=5.0).fetch_activity(f"http://{host}:{port}/actor")
    assert connections == []


# --- through the inbox: the signature's keyId is an SSRF sink (C5) -------------------------------

@pytest.fixture
async def guarded_instance(database_url):
    network = Recorder()
    dns = Dns({"metadata.test": [["169.254.169.254"]], "intranet.test": [["10.1.2.3"]]})
    client = make_client(allow_private_addresses=False, user_agent="Rounds-security-tests", resolver=dns,
                         network_backend=network, timeout=2.0)
    settings_ = make_settings(database_url)
    database = Database(settings_.database_url)
    app = create_app(settings_, database=database, http_client=client, run_workers=False)
    ctx = app.state.ctx
    async with ctx.database.transaction() as session:
        await ensure_instance_actor(session, ctx.keyring, ctx.urls)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings_.base_url) as http:
            yield app, http, network
    await client.aclose()
    await database.dispose()


@pytest.mark.parametrize("key_id", [
    "http://127.0.0.1:6379/key", "http://[::1]/key", "http://169.254.169.254/latest/meta-data#key",
    "http://0.0.0.0/key", "http://[::]/key", "http://[::ffff:127.0.0.1]/key", "http://[64:ff9b::7f00:1]/key",
    "https://metadata.test/users/x#main-key", "https://intranet.test/users/x#main-key",
])
async def test_delivery_whose_key_lives_on_a_private_address_makes_no_connection(guarded_instance, key_id):
    app, http, network = guarded_instance

    class Node:  # what `row_counts` needs of an instance
        ctx = app.state.ctx

    url = "https://mayo.test/inbox"
    actor = key_id.split("#")[0]
    body = create(actor, f"{actor}/statuses/1")
    headers = cavage(key=generate_rsa_key(), key_id=key_id, url=url, body=body, now=app.state.federation.clock())
    before = await row_counts(Node)
    assert_refused(await http.post(url, content=body, headers=headers), 401)
    assert changed(before, await row_counts(Node)) == {}
    assert network.connects == []


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(FORBIDDEN_LITERALS), st.integers(min_value=1, max_value=65535))
async def test_no_key_address_and_port_reaches_the_network(guarded_instance, address, port):
    app, http, network = guarded_instance
    key_id = f"http://{_bracketed(address)}:{port}/key"
    body = create(f"https://x.test/users/{port}", f"https://x.test/users/{port}/statuses/1")
    headers = cavage(key=generate_rsa_key(), key_id=key_id, url="https://mayo.test/inbox", body=body,
                     now=app.state.federation.clock())
    assert (await http.post("/inbox", content=body, headers=headers)).status_code == 401
    assert network.connects == []

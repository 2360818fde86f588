"""The one guarded way the server makes outbound requests.

    FetchError                  base; `.url` names what was being fetched
    ├── FetchRefused            we refuse the address or the answer: non-public address, redirect
    │                           to another host, too many redirects, wrong content type, document
    │                           id not matching, body too large, invalid or too deeply nested JSON,
    │                           and answers we cannot use (401, 403 and other 4xx)
    ├── FetchNotFound           404
    │   └── FetchGone           410: deleted for good
    └── FetchUnavailable        timeouts, connection errors, 5xx, 429; `.retry_after` in seconds

`make_client` builds the shared httpx client. Its connections go through `GuardedBackend`,
which resolves each name itself, refuses unless every address is public (`address_allowed`)
and connects to the address it checked: a name that answers a public address to the check
and loopback to the connection (DNS rebinding) cannot get through, because there is only one
look-up (checklist C1, C2). Every request made with that client is guarded, not only those
made through `Fetcher`, which adds the rules for documents: same-host redirects only, a size
cap, a total deadline, the content type and the origin of the document's id.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpcore
import httpx

from federation.jsonutil import InvalidJSON, JSONTooDeep, loads_bounded
from federation.vocab import ACTIVITY_JSON, ACTIVITY_MEDIA_TYPES, AS_CONTEXT, LD_JSON_PROFILE

Resolver = Callable[[str, int], Awaitable[list[str]]]
Signer = Callable[[str, str], Mapping[str, str]]

ACCEPT_ACTIVITY = f"{ACTIVITY_JSON}, {LD_JSON_PROFILE}"
ACCEPT_JRD = "application/jrd+json, application/json"
PROFILE_PAGE_REL = "http://webfinger.net/rel/profile-page"
DEFAULT_PORTS = {"http": 80, "https": 443}
# At most this many addresses of one name are tried in turn when connecting.
MAX_ADDRESSES_TRIED = 4


# --- errors ---------------------------------------------------------------------------------


class FetchError(Exception):
    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.message = message


class FetchRefused(FetchError):
    pass


class FetchNotFound(FetchError):
    pass


class FetchGone(FetchNotFound):
    pass


class FetchUnavailable(FetchError):
    def __init__(self, url: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(url, message)
        self.retry_after = retry_after


# --- which addresses may be reached -----------------------------------------------------------

# An allow-list in effect: IPv4 minus the IANA special-purpose registry, IPv6 only inside global
# unicast 2000::/3 minus its special blocks. Spelled out rather than left to `is_global`, whose
# answers change between Python patch releases (3.11.7 calls 224.0.0.1 and fec0::1 global).
_IPV4_SPECIAL = tuple(ipaddress.IPv4Network(block) for block in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3",  # multicast, reserved and broadcast
))
_IPV6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_IPV6_SPECIAL = tuple(ipaddress.IPv6Network(block) for block in (
    "2001::/23",  # IETF protocol assignments: Teredo, benchmarking, ORCHID…
    "2001:db8::/32", "3fff::/20",  # documentation
))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that an IPv4-mapped, NAT64 or 6to4 address leads to."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def _ipv4_allowed(ip: ipaddress.IPv4Address) -> bool:
    return ip.is_global and not any(ip in block for block in _IPV4_SPECIAL)


def address_allowed(address: str) -> bool:
    """Whether an outbound connection may go to `address`: globally routable unicast only."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone index changes nothing
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_allowed(ip)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return _ipv4_allowed(embedded)
    return (ip in _IPV6_GLOBAL_UNICAST and ip.is_global
            and not any(ip in block for block in _IPV6_SPECIAL))


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of `host` from the system resolver, in its order of preference."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# --- the connection guard ---------------------------------------------------------------------


class AddressRefused(httpcore.ConnectError):
    """Raised inside the connection pool (httpx reports it as ConnectError, this as its cause)."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that resolves names itself and connects only to allowed addresses.

    TLS is unaffected: httpcore passes the name as `server_hostname` when it starts TLS on
    the stream returned here, and the Host header comes from the request.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend, *, resolver: Resolver,
                 allow_private_addresses: bool) -> None:
        self._inner = inner
        self._resolver = resolver
        self._allow_private = allow_private_addresses

    async def resolve(self, host: str, port: int, limit: float | None) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(limit):
                addresses = await self._resolver(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"Looking up {host} took too long.") from None
        except OSError as error:
            raise httpcore.ConnectError(f"Cannot look up {host}: {error}.") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address.")
        return addresses

    # `timeout` is httpcore's name for it: the pool passes it by keyword.
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await self.resolve(host, port, timeout)
        if not self._allow_private:
            # Every address, not only the first: the connection may fall back to any of them.
            refused = [address for address in addresses if not address_allowed(address)]
            if refused:
                raise AddressRefused(f"{host} resolves to a non-public address ({refused[0]}).")
        failure: Exception | None = None
        for address in addresses[:MAX_ADDRESSES_TRIED]:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("Unix sockets are never reached from here.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool built on a `GuardedBackend`."""

    def __init__(self, backend: GuardedBackend, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx 0.28 takes no network backend, so the pool it built is replaced by an equal one
        # that has ours. No retries: a refused address is final, a failed connect is the caller's.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=backend,
        )


def make_client(*, allow_private_addresses: bool, user_agent: str, resolver: Resolver | None = None,
                timeout: float = 10.0,
                network_backend: httpcore.AsyncNetworkBackend | None = None) -> httpx.AsyncClient:
    """The server's outbound HTTP client: create one and share it.

    `allow_private_addresses` lets connections reach loopback and private networks (tests
    only). `resolver(host, port)` answers the addresses of a name (the system resolver by
    default). `network_backend` makes the connections once allowed (httpcore's AnyIO backend
    by default; a seam for tests). `timeout` bounds each connect, read, write and wait for a
    pooled connection; `Fetcher` adds a deadline for a whole fetch.
    """
    backend = GuardedBackend(network_backend or httpcore.AnyIOBackend(),
                             resolver=resolver or system_resolver,
                             allow_private_addresses=allow_private_addresses)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=30.0)
    # trust_env=False: no proxy (its connections would bypass the guard), .netrc credentials or
    # certificate settings taken from the environment.
    # Accept-Encoding identity: the size cap then counts what crosses the wire, so a small
    # compressed answer cannot expand into a large one in memory.
    headers = {"User-Agent": user_agent, "Accept-Encoding": "identity"}
    return httpx.AsyncClient(transport=GuardedTransport(backend, limits=limits), timeout=timeout,
                             follow_redirects=False, trust_env=False, headers=headers)


def _refused_address(error: BaseException) -> AddressRefused | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, AddressRefused):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


# --- answers ----------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP-date), if usable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; an obsolete form may parse naive
        return None
    return max(0.0, moment.timestamp() - now)


def _media_type(headers: httpx.Headers) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme)


def _without_fragment(url: httpx.URL) -> tuple[str, str, int | None, bytes]:
    return (*_origin(url), url.raw_path)


def _parse_url(url: str | httpx.URL, shown: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise FetchRefused(shown, "Not a valid URL.") from None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
        raise FetchRefused(shown, "Only http and https URLs are fetched.")
    if parsed.userinfo:
        raise FetchRefused(shown, "URLs with a user name or password are not fetched.")
    return parsed


def _same_origin_redirect(start: httpx.URL, current: httpx.URL, location: str) -> httpx.URL:
    """Where a redirect leads, if that is on the scheme, host and port first asked (checklist C3)."""
    try:
        target = _parse_url(current.join(location), location)
    except httpx.InvalidURL:
        raise FetchRefused(str(current), "Redirected to an invalid URL.") from None
    if _origin(target) != _origin(start):
        raise FetchRefused(str(current), f"Redirected to another host ({target.netloc.decode()}).")
    return target


@dataclass(frozen=True)
class _Answer:
    url: httpx.URL  # after redirects
    headers: httpx.Headers
    body: bytes


@dataclass(frozen=True)
class WebFingerResult:
    subject: str
    actor_url: str
    profile_url: str | None


def _is_activitypub_type(value: object) -> bool:
    media, *parameters = str(value).split(";")
    media = media.strip().lower()
    if media == ACTIVITY_JSON:
        return True
    if media != "application/ld+json":
        return False
    # `profile` is a space-separated list of URIs (RFC 6906); the AS2 context must be one of them.
    for parameter in parameters:
        name, _, given = parameter.partition("=")
        if name.strip().lower() == "profile" and AS_CONTEXT in given.strip().strip('"').split():
            return True
    return False


# --- fetching ---------------------------------------------------------------------------------


class Fetcher:
    """Fetches documents through a shared guarded client. Cheap: make as many as needed.

    `sign(method, url)` returns the headers of a signed GET (by the instance actor), asked
    again for each redirect hop; without it, fetches are unsigned.
    """

    def __init__(self, client: httpx.AsyncClient, *, sign: Signer | None = None, max_bytes: int = 1_048_576,
                 max_redirects: int = 3, total_timeout: float = 20.0) -> None:
        self._client = client
        self._sign = sign
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._total_timeout = total_timeout

    async def fetch_activity(self, url: str) -> dict[str, Any]:
        """The ActivityStreams document at `url`, signed if the fetcher signs.

        It must come as activity+json or ld+json, be an object, and name itself by the final
        URL (fragment aside): a document is believed only from the URL that names it.
        """
        answer = await self._get(url, ACCEPT_ACTIVITY, signed=True, media_types=ACTIVITY_MEDIA_TYPES)
        final = str(answer.url)
        document = self._parse(final, answer.body)
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            raise FetchRefused(final, "The document is not an object with an id.")
        try:
            document_id = httpx.URL(document["id"])
        except httpx.InvalidURL:
            raise FetchRefused(final, "The document id is not a URL.") from None
        if _origin(document_id) != _origin(answer.url):
            host = answer.url.netloc.decode()
            raise FetchRefused(final, f"The document id {document['id']} is not on host {host}.")
        if _without_fragment(document_id) != _without_fragment(answer.url):
            raise FetchRefused(final, f"The document id {document['id']} does not match the URL fetched.")
        return document

    async def fetch_json(self, url: str, *, accept: str = "application/json") -> Any:
        """Any JSON at `url` (NodeInfo, WebFinger), unsigned, with the same guards."""
        answer = await self._get(url, accept, signed=False, media_types=None)
        return self._parse(str(answer.url), answer.body)

    async def webfinger(self, handle: str, *, scheme: str = "https") -> WebFingerResult:
        """Look up `user@host` (or `acct:user@host`) and return its ActivityPub actor URL.

        This proves only what the handle's host says. Before binding the handle to the actor,
        callers must check that the actor's host WebFingers back to the same acct (checklist
        H1): otherwise evil.example could claim a victim's actor under its own name.
        """
        user, host = _split_handle(handle)
        if scheme not in DEFAULT_PORTS:
            raise FetchRefused(handle, "WebFinger is looked up over http or https only.")
        resource = f"acct:{user}@{host}"
        url = f"{scheme}://{host}/.well-known/webfinger?resource={quote(resource, safe=':@')}"
        _parse_url(url, handle)
        document = await self.fetch_json(url, accept=ACCEPT_JRD)
        if not isinstance(document, dict) or not isinstance(document.get("links", []), list):
            raise FetchRefused(url, "The answer is not a WebFinger document.")
        actor_url = profile_url = None
        for link in document.get("links", []):
            if not isinstance(link, dict) or not isinstance(link.get("href"), str):
                continue
            if actor_url is None and link.get("rel") == "self" and _is_activitypub_type(link.get("type")):
                actor_url = link["href"]
            elif profile_url is None and link.get("rel") == PROFILE_PAGE_REL:
                profile_url = link["href"]
        if actor_url is None:
            raise FetchNotFound(url, f"{resource} has no ActivityPub actor.")
        try:
            actor_scheme = httpx.URL(actor_url).scheme
        except httpx.InvalidURL:
            actor_scheme = ""
        if actor_scheme not in DEFAULT_PORTS:
            raise FetchRefused(url, "The actor link is not an http or https URL.")
        subject = document.get("subject")
        return WebFingerResult(subject=subject if isinstance(subject, str) else resource,
                               actor_url=actor_url, profile_url=profile_url)

    def _parse(self, url: str, body: bytes) -> Any:
        try:
            return loads_bounded(body)
        except (InvalidJSON, JSONTooDeep) as error:
            raise FetchRefused(url, str(error).rstrip(".") + ".") from None

    async def _get(self, url: str, accept: str, *, signed: bool,
                   media_types: frozenset[str] | None) -> _Answer:
        start = _parse_url(url, url)
        try:
            async with asyncio.timeout(self._total_timeout):
                return await self._follow(start, accept, signed=signed, media_types=media_types)
        except TimeoutError:
            raise FetchUnavailable(url, f"The fetch took longer than {self._total_timeout:g} s.") from None

    async def _follow(self, url: httpx.URL, accept: str, *, signed: bool,
                      media_types: frozenset[str] | None) -> _Answer:
        """GET, following redirects on the same scheme, host and port only."""
        current = url
        for _hop in range(self._max_redirects + 1):
            here = str(current)
            headers = {"Accept": accept}
            if signed and self._sign is not None:
                headers.update(self._sign("GET", here))
            try:
                async with self._client.stream("GET", current, headers=headers) as response:
                    if response.is_redirect:
                        current = _same_origin_redirect(url, current, response.headers["location"])
                        continue
                    return await self._accept(current, response, media_types)
            except httpx.ConnectError as error:
                refused = _refused_address(error)
                if refused is not None:
                    raise FetchRefused(here, str(refused)) from None
                raise FetchUnavailable(here, f"Cannot connect: {error}") from None
            except httpx.TimeoutException:
                raise FetchUnavailable(here, "The server took too long to answer.") from None
            except httpx.TransportError as error:
                raise FetchUnavailable(here, f"The connection failed ({type(error).__name__}).") from None
            except httpx.DecodingError:
                raise FetchRefused(here, "The body cannot be decoded.") from None
        raise FetchRefused(str(url), f"More than {self._max_redirects} redirects.")

    async def _accept(self, url: httpx.URL, response: httpx.Response,
                      media_types: frozenset[str] | None) -> _Answer:
        """The final answer, if its status, content type and size are acceptable."""
        here = str(url)
        self._check_status(here, response)
        media_type = _media_type(response.headers)
        if media_types is not None and media_type not in media_types:
            raise FetchRefused(here, f"The content type ({media_type or 'none'}) is not ActivityStreams.")
        if (media_types is not None and media_type == "application/ld+json"
                and not _is_activitypub_type(response.headers["content-type"])):
            # Bare ld+json is any JSON-LD (a file upload, say): only the ActivityStreams profile names
            # an ActivityStreams document (checklist B9, CVE-2024-23832).
            raise FetchRefused(here, "The content type (application/ld+json) has no ActivityStreams profile.")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise FetchRefused(here, f"The body is larger than {self._max_bytes} bytes.")
        body = bytearray()
        # Counted after decompression; the length header is only a hint and may lie (checklist D2).
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_bytes:
                raise FetchRefused(here, f"The body is larger than {self._max_bytes} bytes.")
        return _Answer(url, response.headers, bytes(body))

    @staticmethod
    def _check_status(url: str, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if status == 404:
            raise FetchNotFound(url, "Not found (404).")
        if status == 410:
            raise FetchGone(url, "Gone (410).")
        if status in (408, 429) or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"), now=time.time())
            raise FetchUnavailable(url, f"The server answered {status}.", retry_after)
        raise FetchRefused(url, f"The server answered {status}.")


def _split_handle(handle: str) -> tuple[str, str]:
    account = handle.strip().removeprefix("acct:").removeprefix("@")
    user, at, host = account.rpartition("@")
    forbidden = set("/?#@\\%") | {" ", "\t", "\r", "\n"}
    if not at or not user or not host or forbidden & set(user + host):
        raise FetchRefused(handle, "Not a user@host handle.")
    return user, host.lower()

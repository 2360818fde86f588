"""The one guarded way the server makes outbound requests.

    FetchError                  base; `.url` names what was fetched
    ├── FetchRefused            we refuse the answer or the address: private address, redirect to
    │                           another host, too many redirects, wrong content type, id mismatch,
    │                           body too large, invalid or too deeply nested JSON
    ├── FetchNotFound           404
    │   └── FetchGone           410
    └── FetchUnavailable        timeouts, connection errors, 5xx, 429 (`.retry_after` in seconds)

Addresses are checked when connecting, after our own DNS look-up, on the very addresses we
connect to: a name that resolves to a public address for the check and to loopback for the
connection cannot get through.
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
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from federation.jsonutil import InvalidJSON, JSONTooDeep, loads_bounded
from federation.vocab import ACTIVITY_MEDIA_TYPES

Resolver = Callable[[str, int], Awaitable[list[str]]]
ACCEPT_ACTIVITY = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


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


def address_allowed(address: str) -> bool:
    """True for globally routable unicast addresses only (the embedded IPv4 of mapped forms decides)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_allowed(str(ip.ipv4_mapped))
        if ip in NAT64:
            return address_allowed(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
        if ip in SIX_TO_FOUR:
            return address_allowed(str(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)))
    return ip.is_global and not ip.is_multicast and not ip.is_reserved and not ip.is_unspecified


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class AddressRefused(httpcore.ConnectError):
    """Raised from inside the connection pool; turned into FetchRefused by the Fetcher."""


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend, resolver: Resolver, allow_private: bool) -> None:
        self._inner = inner
        self._resolver = resolver
        self._allow_private = allow_private

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        if self._allow_private:
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            addresses = await self._resolver(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        refused = [address for address in addresses if not address_allowed(address)]
        if refused:
            raise AddressRefused(f"{host} resolves to a non-public address ({refused[0]})")
        return await self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("unix sockets are not reachable from here")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def make_client(*, allow_private_addresses: bool, user_agent: str, resolver: Resolver | None = None,
                timeout: float = 10.0) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
    # httpx builds its pool with httpcore's default backend; give it one that checks addresses.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(), max_connections=200, max_keepalive_connections=50,
        keepalive_expiry=30.0, http1=True, http2=False,
        network_backend=GuardedBackend(httpcore.AnyIOBackend(), resolver or system_resolver,
                                       allow_private_addresses),
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False,
                             headers={"User-Agent": user_agent})


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@dataclass(frozen=True)
class WebFingerResult:
    subject: str
    actor_url: str
    profile_url: str | None


class Fetcher:
    def __init__(self, client: httpx.AsyncClient, *, sign: Callable[[str, str], Mapping[str, str]] | None = None,
                 max_bytes: int = 1_048_576, max_redirects: int = 3, total_timeout: float = 20.0) -> None:
        self._client = client
        self._sign = sign
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._total_timeout = total_timeout

    async def _get(self, url: str, accept: str, *, signed: bool) -> tuple[str, httpx.Headers, bytes]:
        """GET with same-origin redirects only; returns (final url, headers, body)."""
        try:
            return await asyncio.wait_for(self._get_following(url, accept, signed), self._total_timeout)
        except TimeoutError:
            raise FetchUnavailable(url, "took too long") from None

    async def _get_following(self, url: str, accept: str, signed: bool) -> tuple[str, httpx.Headers, bytes]:
        origin = _origin(url)
        current = url
        for _hop in range(self._max_redirects + 1):
            if urlsplit(current).scheme not in ("http", "https"):
                raise FetchRefused(current, "only http(s) URLs are fetched")
            headers = {"Accept": accept}
            if signed and self._sign is not None:
                headers.update(self._sign("GET", current))
            try:
                async with self._client.stream("GET", current, headers=headers) as response:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchRefused(current, "redirect without a Location")
                        current = urljoin(current, location)
                        if _origin(current) != origin:
                            raise FetchRefused(current, "redirect to another host")
                        continue
                    self._check_status(current, response)
                    body = bytearray()
                    async for chunk in response.aiter_raw():
                        body += chunk
                        if len(body) > self._max_bytes:
                            raise FetchRefused(current, f"answer larger than {self._max_bytes} bytes")
                    return current, response.headers, bytes(body)
            except AddressRefused as error:
                raise FetchRefused(current, str(error)) from None
            except httpx.ConnectError as error:
                if isinstance(error.__context__, AddressRefused) or "non-public address" in str(error):
                    raise FetchRefused(current, str(error)) from None
                raise FetchUnavailable(current, f"cannot connect: {error}") from None
            except httpx.TransportError as error:
                raise FetchUnavailable(current, f"{type(error).__name__}: {error}") from None
        raise FetchRefused(url, "too many redirects")

    @staticmethod
    def _check_status(url: str, response: httpx.Response) -> None:
        status = response.status_code
        if status == 410:
            raise FetchGone(url, "gone (410)")
        if status == 404:
            raise FetchNotFound(url, "not found (404)")
        if status == 429 or status >= 500:
            raise FetchUnavailable(url, f"answered {status}", retry_after_seconds(response.headers.get("retry-after")))
        if status >= 300:
            raise FetchRefused(url, f"answered {status}")

    def _json(self, url: str, body: bytes) -> Any:
        try:
            return loads_bounded(body)
        except (InvalidJSON, JSONTooDeep) as error:
            raise FetchRefused(url, str(error)) from None

    async def fetch_activity(self, url: str) -> dict[str, Any]:
        final, headers, body = await self._get(url, ACCEPT_ACTIVITY, signed=True)
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in ACTIVITY_MEDIA_TYPES:
            raise FetchRefused(final, f"content type {media_type or 'none'} is not ActivityStreams")
        document = self._json(final, body)
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            raise FetchRefused(final, "not an ActivityStreams object with an id")
        document_id = document["id"].split("#", 1)[0]
        if _origin(document_id)[1] != _origin(final)[1]:
            raise FetchRefused(final, f"document id {document_id} is not on host {_origin(final)[1]}")
        if document_id not in (final.split("#", 1)[0], url.split("#", 1)[0]):
            raise FetchRefused(final, f"document id {document_id} does not match the URL fetched")
        return document

    async def fetch_json(self, url: str, *, accept: str = "application/json") -> Any:
        final, _headers, body = await self._get(url, accept, signed=False)
        return self._json(final, body)

    async def webfinger(self, handle: str, *, scheme: str = "https") -> WebFingerResult:
        """Resolve `user@host` to its actor URL.

        Callers must check that the actor's host is the handle's host (or WebFingers back
        to the same acct) before binding the handle to the actor.
        """
        account = handle.removeprefix("acct:").removeprefix("@")
        user, at, host = account.rpartition("@")
        if not at or not user or not host or "/" in host:
            raise FetchRefused(handle, "not a user@host handle")
        url = f"{scheme}://{host}/.well-known/webfinger?resource=acct:{user}@{host}"
        document = await self.fetch_json(url, accept="application/jrd+json, application/json")
        if not isinstance(document, dict) or not isinstance(document.get("links"), list):
            raise FetchRefused(url, "not a WebFinger document")
        actor_url = profile = None
        for link in document["links"]:
            if not isinstance(link, dict) or not isinstance(link.get("href"), str):
                continue
            kind = str(link.get("type", ""))
            if link.get("rel") == "self" and ("activity+json" in kind or "ld+json" in kind) and actor_url is None:
                actor_url = link["href"]
            elif link.get("rel") == "http://webfinger.net/rel/profile-page" and profile is None:
                profile = link["href"]
        if actor_url is None:
            raise FetchNotFound(url, "no ActivityPub actor for this handle")
        if urlsplit(actor_url).scheme not in ("http", "https"):
            raise FetchRefused(url, "the actor link is not an http(s) URL")
        subject = document.get("subject") if isinstance(document.get("subject"), str) else f"acct:{account}"
        return WebFingerResult(subject=subject, actor_url=actor_url, profile_url=profile)

"""`rounds network check`: is every member of the network reachable and in agreement?

For each member, in the network file's order: its NodeInfo answers and names the same network
(the same name and the same member domains); WebFinger finds its instance actor
(`acct:domain@domain`, as Mastodon and Rounds answer); and that actor's public key can be
fetched (a signed GET by our instance actor) and read. Results come one member at a time, so
the command can show progress while slow or dead members time out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from federation.documents import DocumentError, parse_actor
from federation.fetch import Fetcher, FetchError
from federation.httpsig import SignatureError, load_public_key_pem
from moderation.network import Member, Network

NODEINFO_SCHEMAS = ("http://nodeinfo.diaspora.software/ns/schema/2.1",
                    "http://nodeinfo.diaspora.software/ns/schema/2.0")


@dataclass
class MemberCheck:
    member: Member
    passed: list[str] = field(default_factory=list)  # what held, e.g. "nodeinfo (rounds 0.1.0)"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def check_network(network: Network, fetcher: Fetcher, *, scheme: str = "https") -> AsyncIterator[MemberCheck]:
    for member in network.members:
        yield await check_member(network, member, fetcher, scheme=scheme)


async def check_member(network: Network, member: Member, fetcher: Fetcher, *, scheme: str = "https") -> MemberCheck:
    result = MemberCheck(member)
    await _check_nodeinfo(network, member, fetcher, scheme, result)
    await _check_actor_and_key(member, fetcher, scheme, result)
    return result


async def _check_nodeinfo(network: Network, member: Member, fetcher: Fetcher, scheme: str,
                          result: MemberCheck) -> None:
    try:
        links = await fetcher.fetch_json(f"{scheme}://{member.domain}/.well-known/nodeinfo")
        href = _nodeinfo_href(links)
        if href is None:
            result.problems.append("nodeinfo: no NodeInfo 2.x link in /.well-known/nodeinfo")
            return
        document = await fetcher.fetch_json(href)
    except FetchError as error:
        result.problems.append(f"nodeinfo: {error}")
        return
    if not isinstance(document, dict):
        result.problems.append("nodeinfo: the answer is not a NodeInfo document")
        return
    software = document.get("software") if isinstance(document.get("software"), dict) else {}
    result.passed.append(f"nodeinfo ({software.get('name', '?')} {software.get('version', '?')})")
    problem = _network_disagreement(network, document.get("metadata"))
    if problem:
        result.problems.append(f"network: {problem}")
    else:
        result.passed.append("same network")


def _nodeinfo_href(links: Any) -> str | None:
    entries = links.get("links") if isinstance(links, dict) else None
    if not isinstance(entries, list):
        return None
    found = {entry.get("rel"): entry.get("href") for entry in entries if isinstance(entry, dict)}
    return next((found[schema] for schema in NODEINFO_SCHEMAS if isinstance(found.get(schema), str)), None)


def _network_disagreement(network: Network, metadata: Any) -> str | None:
    """None when the member's NodeInfo names our network with the same members; else what differs."""
    listed = metadata.get("network") if isinstance(metadata, dict) else None
    if not isinstance(listed, dict):
        return "it does not name a network in its NodeInfo"
    if listed.get("name") != network.name:
        return f"it names the network {listed.get('name')!r}, not {network.name!r}"
    members = listed.get("members") if isinstance(listed.get("members"), list) else []
    theirs = {str(entry.get("domain", "")).lower() for entry in members if isinstance(entry, dict)}
    ours = {member.domain for member in network.members}
    missing, extra = sorted(ours - theirs), sorted(theirs - ours)
    if missing or extra:
        parts = ([f"it does not list {', '.join(missing)}"] if missing else []) + (
            [f"it also lists {', '.join(extra)}"] if extra else [])
        return "; ".join(parts)
    return None


async def _check_actor_and_key(member: Member, fetcher: Fetcher, scheme: str, result: MemberCheck) -> None:
    try:
        found = await fetcher.webfinger(f"{member.domain}@{member.domain}", scheme=scheme)
    except FetchError as error:
        result.problems.append(f"webfinger: {error}")
        return
    result.passed.append("webfinger")
    try:
        actor = parse_actor(await fetcher.fetch_activity(found.actor_url))
        load_public_key_pem(actor.public_key_pem)
    except FetchError as error:
        result.problems.append(f"key: {error}")
        return
    except (DocumentError, SignatureError) as error:
        result.problems.append(f"key: the instance actor {found.actor_url} has no usable key: {error}")
        return
    result.passed.append("key")

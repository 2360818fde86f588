"""Which remote hosts this instance federates with, and how: the federation mode, the network,
the allowed domains (allowlist mode) and the domain blocks, as one snapshot (`DomainRules`).

Blocks and allows change at runtime and web and worker processes may be separate, so each
process keeps the snapshot for `CACHE_SECONDS` and reloads it after (three small queries).
A change made in this process (`moderation.domains`) marks every snapshot stale as soon as its
transaction commits; other processes see it within the TTL. Why a cache and not a query per
check: the inbox accept path, the delivery fan-out and every timeline ask, and blocks are few
and rarely change; a few seconds of delay for another process is what Mastodon's own
cache gives too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import idna
from sqlalchemy import ColumnElement, String, and_, event, exists, false, literal, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from moderation.network import Network
from storage.engine import Database
from storage.tables import Actor, DomainAllow, DomainBlock

CACHE_SECONDS = 5.0


def host_of_domain(domain: str) -> str:
    """`Mayo.Example.:443` → `mayo.example:443`, `Bücher.example` → `xn--bcher-kva.example`: the
    ASCII form a connection uses (as `federation.documents.host_of` gives remote hosts),
    lower-cased, no trailing dot. A name IDNA cannot encode is left as it is (and refused by
    `moderation.domains.normalize_domain`)."""
    host, _, port = domain.lower().partition(":")
    host = host.rstrip(".")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            pass
    return f"{host}:{port}" if port else host


def covering_domains(domain: str) -> list[str]:
    """`a.b.example:80` → [`a.b.example:80`, `a.b.example`, `b.example`, `example`], most specific first."""
    host, _, port = host_of_domain(domain).partition(":")
    labels = host.split(".")
    found = [".".join(labels[index:]) for index in range(len(labels))]
    return [f"{host}:{port}", *found] if port else found


def within_domains(column: Any, domains: list[str]) -> ColumnElement[bool]:
    """SQL: `column` (a host, or host:port) is one of `domains` or a subdomain of one; a domain
    named without a port covers every port of it (as `covering_domains` does)."""
    if not domains:
        return false()
    conditions = []
    for domain in domains:
        escaped = domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions += [column == domain, column.like(f"%.{escaped}", escape="\\")]
        if ":" not in domain:
            conditions += [column.like(f"{escaped}:%", escape="\\"), column.like(f"%.{escaped}:%", escape="\\")]
    return or_(*conditions)


def limited_author(author_id: Any) -> ColumnElement[bool]:
    """SQL: the account `author_id` is silenced or suspended here, itself or by its domain's block.

    Read from the tables (not the cached snapshot) so that a timeline query needs no policy at
    hand; domain blocks are few, and the subquery stays one indexed lookup of the author."""
    return _author_under(author_id, ("silence", "suspend"))


def suspended_author(author_id: Any) -> ColumnElement[bool]:
    """SQL: the account `author_id` is suspended here, itself or by its domain's block."""
    return _author_under(author_id, ("suspend",))


def _author_under(author_id: Any, severities: tuple[str, ...]) -> ColumnElement[bool]:
    author = aliased(Actor)
    domain_blocked = exists().where(
        DomainBlock.severity.in_(severities),  # type: ignore[attr-defined]
        or_(author.domain == DomainBlock.domain,
            col(author.domain).like(literal("%.", type_=String) + DomainBlock.domain),
            col(author.domain).like(DomainBlock.domain + literal(":%", type_=String)),
            col(author.domain).like(literal("%.", type_=String) + DomainBlock.domain + literal(":%", type_=String))))
    own = [col(author.suspended_at).is_not(None)]
    if "silence" in severities:
        own.append(col(author.silenced_at).is_not(None))
    return exists().where(author.id == author_id, or_(*own, and_(col(author.domain).is_not(None), domain_blocked)))


@dataclass(frozen=True)
class DomainRule:
    """One block as the checks need it (the comments stay in the table)."""

    domain: str
    severity: str  # silence | suspend | noop
    reject_media: bool = False
    reject_reports: bool = False


@dataclass(frozen=True)
class DomainRules:
    """The policy at one moment. Every check takes a host or host:port; subdomains follow parents."""

    mode: str = "open"
    members: frozenset[str] = frozenset()
    allowed: frozenset[str] = frozenset()
    blocks: Mapping[str, DomainRule] = field(default_factory=dict)
    suspended_actors: frozenset[str] = frozenset()  # uris of remote accounts suspended here

    def block_of(self, domain: str) -> DomainRule | None:
        """The most specific block covering `domain`."""
        return next((self.blocks[name] for name in covering_domains(domain) if name in self.blocks), None)

    def suspended(self, domain: str) -> bool:
        rule = self.block_of(domain)
        return rule is not None and rule.severity == "suspend"

    def silenced(self, domain: str) -> bool:
        rule = self.block_of(domain)
        return rule is not None and rule.severity == "silence"

    def rejects_media(self, domain: str) -> bool:
        rule = self.block_of(domain)
        return rule is not None and (rule.reject_media or rule.severity == "suspend")

    def rejects_reports(self, domain: str) -> bool:
        rule = self.block_of(domain)
        return rule is not None and (rule.reject_reports or rule.severity == "suspend")

    def domains(self, severity: str) -> list[str]:
        return sorted(name for name, rule in self.blocks.items() if rule.severity == severity)

    def permitted_by_mode(self, domain: str) -> bool:
        if self.mode == "open":
            return True
        permitted = self.members | (self.allowed if self.mode == "allowlist" else frozenset())
        return any(name in permitted for name in covering_domains(domain))

    def allows(self, domain: str) -> bool:
        """May we exchange activities with `domain` at all (deliver, fetch, accept, serve)?"""
        return self.permitted_by_mode(domain) and not self.suspended(domain)

    def refusal(self, domain: str) -> str | None:
        domain = host_of_domain(domain)
        if self.suspended(domain):
            return f"{domain} is suspended by this instance"
        if self.permitted_by_mode(domain):
            return None
        if self.mode == "network":
            return f"{domain} is not a member of this instance's network"
        return f"{domain} is not on this instance's allowlist"

    def actor_refusal(self, uri: str) -> str | None:
        return f"the account {uri} is suspended by this instance" if uri in self.suspended_actors else None


class _Changes:
    """How many domain policy changes this process has committed: a snapshot older than the
    latest is stale at once. Process-wide on purpose: whichever app or command in the process
    saved the change, every policy of the process must stop using what it cached."""

    generation = 0

    @classmethod
    def bump(cls, *_: object) -> None:
        cls.generation += 1


def changed_in(session: AsyncSession) -> None:
    """Mark every snapshot of this process stale when `session`'s transaction commits."""
    event.listen(session.sync_session, "after_commit", _Changes.bump, once=True)


class DomainPolicy:
    """The federation mode and network (static, from settings) and the cached `DomainRules`.

    `current(session)`/`load(database)` give a fresh snapshot; `allows`/`refusal` answer from
    the last one loaded (for code with no session at hand: it is at most a few seconds old
    wherever a request has passed before)."""

    def __init__(self, mode: str = "open", network: Network | None = None,
                 allowed: frozenset[str] = frozenset(), *, ttl: float = CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.mode = mode
        self.network = network
        self._members = frozenset(member.domain for member in network.members) if network else frozenset()
        self._static_allowed = frozenset(host_of_domain(name) for name in allowed)
        self._ttl = ttl
        self._monotonic = monotonic
        self._rules = DomainRules(mode, self._members, self._static_allowed)
        self._loaded_at: float | None = None
        self._generation = -1

    def cached(self) -> DomainRules | None:
        """The snapshot, if it is still fresh."""
        if (self._loaded_at is None or self._generation != _Changes.generation
                or self._monotonic() - self._loaded_at > self._ttl):
            return None
        return self._rules

    async def current(self, session: AsyncSession) -> DomainRules:
        rules = self.cached()
        if rules is not None:
            return rules
        generation, started = _Changes.generation, self._monotonic()
        blocks = (await session.exec(select(DomainBlock.domain, DomainBlock.severity, DomainBlock.reject_media,
                                            DomainBlock.reject_reports))).all()
        allowed = self._static_allowed
        if self.mode == "allowlist":
            allowed = allowed | frozenset((await session.exec(select(DomainAllow.domain))).all())
        suspended = (await session.exec(select(Actor.uri).where(
            col(Actor.suspended_at).is_not(None), col(Actor.domain).is_not(None)))).all()
        self._rules = DomainRules(
            mode=self.mode, members=self._members, allowed=allowed,
            blocks={row[0]: DomainRule(*row) for row in blocks},
            suspended_actors=frozenset(suspended))
        self._loaded_at, self._generation = started, generation
        return self._rules

    async def load(self, database: Database) -> DomainRules:
        """`current`, opening a session only when the snapshot is stale."""
        rules = self.cached()
        if rules is not None:
            return rules
        async with database.session() as session:
            return await self.current(session)

    def invalidate(self) -> None:
        self._loaded_at = None

    @property
    def rules(self) -> DomainRules:
        """The last snapshot loaded, however old."""
        return self._rules

    def allows(self, domain: str) -> bool:
        return self._rules.allows(domain)

    def refusal(self, domain: str) -> str | None:
        return self._rules.refusal(domain)

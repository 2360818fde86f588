"""This instance's policy for remote domains: blocks (silence, suspend, reject media or reports)
and, in `allowlist` mode, the allowed domains. An entry applies to the domain and its subdomains.

`save_block` and `lift_block` are the one way entries change (admin API, CLI, CSV import,
subscribed blocklists): each records itself in the audit log in the caller's transaction, and
marks this process's cached policy stale once that transaction commits. Saving a suspension
severs the follows with the domain at once, and newly rejecting its media forgets the
attachments we hold of it (`moderation.suspension`); purging what we cached from a suspended
domain is the caller's next step (`purge_domain`, in batches, after the commit).
`save_allow`/`lift_allow` do the same for the allowlist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from moderation.audit import record
from moderation.policy import changed_in, covering_domains, host_of_domain
from moderation.suspension import drop_media, sever_domain
from storage.tables import DomainAllow, DomainBlock, utcnow

SEVERITIES = ("silence", "suspend", "noop")
MAX_COMMENT = 1000


class DomainPolicyError(ValueError):
    """An entry that cannot be saved; the message names the field."""


@dataclass(frozen=True)
class BlockEntry:
    """What an entry says, whichever way it arrived (API form, CSV row, subscribed list)."""

    domain: str
    severity: str = "silence"
    reject_media: bool = False
    reject_reports: bool = False
    private_comment: str = ""
    public_comment: str = ""
    obfuscate: bool = False

    def checked(self) -> BlockEntry:
        domain = normalize_domain(self.domain)
        if self.severity not in SEVERITIES:
            raise DomainPolicyError(f"severity must be one of {', '.join(SEVERITIES)}")
        for name in ("private_comment", "public_comment"):
            if len(getattr(self, name)) > MAX_COMMENT:
                raise DomainPolicyError(f"{name} is longer than {MAX_COMMENT} characters")
        return BlockEntry(domain, self.severity, self.reject_media, self.reject_reports,
                          self.private_comment.strip(), self.public_comment.strip(), self.obfuscate)

    def differs_from(self, row: DomainBlock) -> bool:
        return any(getattr(self, name) != getattr(row, name) for name in self.__dataclass_fields__)


def normalize_domain(value: str) -> str:
    """`Spam.Example.` → `spam.example`; refuses anything that is not a bare host (or host:port)."""
    domain = host_of_domain(value.strip())
    host, _, port = domain.partition(":")
    if (not host or any(char in domain for char in "/@?#* \t") or host.startswith(".")
            or ".." in host or (port and not port.isdigit())):
        raise DomainPolicyError(f"{value!r} is not a domain such as spam.example")
    if not host.isascii():  # IDNA could not encode it
        raise DomainPolicyError(f"{value!r} is not a valid domain name")
    return domain


def parents(domain: str) -> list[str]:
    """`a.b.example` → [`a.b.example`, `b.example`, `example`]: the entries that may cover it."""
    return covering_domains(domain)


async def block_covering(session: AsyncSession, domain: str) -> DomainBlock | None:
    """The most specific block that applies to `domain` (its own, else its nearest parent's)."""
    candidates = parents(domain)
    rows = (await session.exec(select(DomainBlock).where(col(DomainBlock.domain).in_(candidates)))).all()
    by_domain = {row.domain: row for row in rows}
    return next((by_domain[name] for name in candidates if name in by_domain), None)


async def save_block(session: AsyncSession, entry: BlockEntry, *, by: int | None, via: str,
                     subscription_id: int | None = None, reason: str = "") -> tuple[DomainBlock, bool]:
    """Create or update the block for `entry.domain`; returns the row and whether it is new."""
    entry = entry.checked()
    row = (await session.exec(select(DomainBlock).where(DomainBlock.domain == entry.domain))).first()
    created = row is None
    was_suspended = row is not None and row.severity == "suspend"
    rejected_media = row is not None and row.reject_media
    if row is None:
        row = DomainBlock(domain=entry.domain)
    elif not entry.differs_from(row) and row.subscription_id == subscription_id:
        return row, False
    for name in entry.__dataclass_fields__:
        setattr(row, name, getattr(entry, name))
    row.subscription_id = subscription_id
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    changed_in(session)
    if entry.severity == "suspend" and not was_suspended:
        await sever_domain(session, entry.domain)
    if entry.reject_media and not rejected_media:
        await drop_media(session, entry.domain)
    await record(session, by=by, via=via, action="domain_block.create" if created else "domain_block.update",
                 target_type="domain", target=entry.domain, detail=_describe(entry, reason))
    return row, created


async def lift_block(session: AsyncSession, domain: str, *, by: int | None, via: str, reason: str = "") -> bool:
    """Remove the block of exactly `domain`; False when there was none."""
    row = (await session.exec(select(DomainBlock).where(DomainBlock.domain == normalize_domain(domain)))).first()
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    changed_in(session)
    await record(session, by=by, via=via, action="domain_block.delete", target_type="domain", target=row.domain,
                 detail=reason)
    return True


def _describe(entry: BlockEntry, reason: str) -> str:
    flags: dict[str, Any] = {"severity": entry.severity, "reject_media": entry.reject_media,
                             "reject_reports": entry.reject_reports, "obfuscate": entry.obfuscate}
    text = "; ".join(f"{name}={value}" for name, value in flags.items())
    return f"{text}; {reason}" if reason else text


async def save_allow(session: AsyncSession, domain: str, *, by: int | None, via: str) -> tuple[DomainAllow, bool]:
    """Allow `domain` (allowlist mode); returns the row and whether it is new."""
    domain = normalize_domain(domain)
    row = (await session.exec(select(DomainAllow).where(DomainAllow.domain == domain))).first()
    if row is not None:
        return row, False
    row = DomainAllow(domain=domain)
    session.add(row)
    await session.flush()
    changed_in(session)
    await record(session, by=by, via=via, action="domain_allow.create", target_type="domain", target=domain)
    return row, True


async def lift_allow(session: AsyncSession, domain: str, *, by: int | None, via: str) -> bool:
    """Remove `domain` from the allowlist; False when it was not there."""
    row = (await session.exec(select(DomainAllow).where(DomainAllow.domain == normalize_domain(domain)))).first()
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    changed_in(session)
    await record(session, by=by, via=via, action="domain_allow.delete", target_type="domain", target=row.domain)
    return True

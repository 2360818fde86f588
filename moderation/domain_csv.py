"""Domain blocks as CSV, in Mastodon's export format:

    #domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate
    spam.example,suspend,false,false,Sends spam,false

`parse_blocks` reads a whole file or refuses it: every malformed row is named by its line,
and nothing is applied when any row is bad. The header's `#` is optional (Mastodon writes it,
other tools do not); only `domain` is required, a missing severity means `suspend` (as
Mastodon's import). `plan_import` says what an import would change without writing;
`apply_import` writes it through `save_block` (audited). Private comments never leave in an
export, and an import keeps the ones already here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from moderation.domains import BlockEntry, DomainPolicyError, save_block
from storage.tables import DomainBlock

COLUMNS = ("domain", "severity", "reject_media", "reject_reports", "public_comment", "obfuscate")
HEADER = ",".join(f"#{name}" for name in COLUMNS)
TRUE, FALSE = frozenset({"true", "1", "yes", "t"}), frozenset({"false", "0", "no", "f", ""})


class DomainCsvError(ValueError):
    """The file cannot be imported; `problems` lists each bad line as `line N: why`."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class PlannedChange:
    domain: str
    change: str  # added | updated | unchanged
    entry: BlockEntry


def parse_blocks(text: str) -> list[BlockEntry]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    numbered = [(number, row) for number, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not numbered:
        raise DomainCsvError(["the file is empty: expected the header " + HEADER])
    header_line, header = numbered[0]
    names = [cell.strip().lstrip("#").strip().lower() for cell in header]
    if "domain" not in names:
        raise DomainCsvError([f"line {header_line}: the header must name the columns, such as {HEADER}"])
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise DomainCsvError([f"line {header_line}: unknown column {', '.join(unknown)}"])
    entries, problems, seen = [], [], {}
    for number, row in numbered[1:]:
        if len(row) > len(names):
            problems.append(f"line {number}: {len(row)} fields, but the header names {len(names)}")
            continue
        values = dict(zip(names, (cell.strip() for cell in row), strict=False))
        try:
            entry = _entry(values).checked()
        except DomainPolicyError as error:
            problems.append(f"line {number}: {error}")
            continue
        if entry.domain in seen:
            problems.append(f"line {number}: {entry.domain} is already on line {seen[entry.domain]}")
            continue
        seen[entry.domain] = number
        entries.append(entry)
    if problems:
        raise DomainCsvError(problems)
    return entries


def _entry(values: dict[str, str]) -> BlockEntry:
    def flag(name: str) -> bool:
        value = values.get(name, "").lower()
        if value in TRUE:
            return True
        if value in FALSE:
            return False
        raise DomainPolicyError(f"{name} must be true or false, not {values[name]!r}")

    return BlockEntry(domain=values.get("domain", ""), severity=values.get("severity") or "suspend",
                      reject_media=flag("reject_media"), reject_reports=flag("reject_reports"),
                      public_comment=values.get("public_comment", ""), obfuscate=flag("obfuscate"))


def export_blocks(rows: Sequence[DomainBlock]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"#{name}" for name in COLUMNS])
    for row in sorted(rows, key=lambda found: found.domain):
        writer.writerow([row.domain, row.severity, _bool(row.reject_media), _bool(row.reject_reports),
                         row.public_comment, _bool(row.obfuscate)])
    return out.getvalue()


def _bool(value: bool) -> str:
    return "true" if value else "false"


async def plan_import(session: AsyncSession, entries: Sequence[BlockEntry]) -> list[PlannedChange]:
    """What importing `entries` would change, in file order; writes nothing."""
    domains = [entry.domain for entry in entries]
    existing = {row.domain: row for row in (await session.exec(
        select(DomainBlock).where(col(DomainBlock.domain).in_(domains)))).all()} if domains else {}
    plan = []
    for entry in entries:
        row = existing.get(entry.domain)
        if row is None:
            plan.append(PlannedChange(entry.domain, "added", entry))
            continue
        entry = replace(entry, private_comment=row.private_comment)  # a CSV carries no private comment
        plan.append(PlannedChange(entry.domain, "updated" if entry.differs_from(row) else "unchanged", entry))
    return plan


async def apply_import(session: AsyncSession, entries: Sequence[BlockEntry], *, by: int | None,
                       via: str) -> list[PlannedChange]:
    """Save every entry that changes something (each audited); returns the plan carried out."""
    plan = await plan_import(session, entries)
    for planned in plan:
        if planned.change != "unchanged":
            await save_block(session, planned.entry, by=by, via=via, reason="imported from CSV")
    return plan

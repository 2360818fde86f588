"""Mastodon's domain block CSV: a file is read whole or refused by line, a dry run writes
nothing, an import is audited and keeps private comments, an export round-trips."""

from __future__ import annotations

import pytest
from sqlmodel import select

from moderation.audit import entries
from moderation.domain_csv import (
    HEADER,
    DomainCsvError,
    apply_import,
    export_blocks,
    parse_blocks,
    plan_import,
)
from moderation.domains import BlockEntry, save_block
from storage.tables import DomainBlock

GOOD = f"""{HEADER}
spam.example,suspend,false,false,Sends spam,false
Rude.Example,silence,true,true,,true
pics.example,noop,true,false,"Pictures, of a kind",false
"""


def test_mastodons_export_is_read_with_its_flags():
    entries_read = parse_blocks(GOOD)
    assert entries_read == [
        BlockEntry("spam.example", "suspend", public_comment="Sends spam"),
        BlockEntry("rude.example", "silence", True, True, obfuscate=True),
        BlockEntry("pics.example", "noop", reject_media=True, public_comment="Pictures, of a kind"),
    ]


def test_a_header_without_hashes_and_missing_columns_take_mastodons_defaults():
    assert parse_blocks("domain\nspam.example\n\n") == [BlockEntry("spam.example", "suspend")]


@pytest.mark.parametrize(("text", "problems"), [
    ("", ["the file is empty"]),
    ("spam.example,suspend\n", ["line 1: the header must name the columns"]),
    ("#domain,#color\n", ["line 1: unknown column color"]),
    (f"{HEADER}\nspam.example,ban,false,false,,false\nok.example\nbad domain,silence\n"
     "ok.example,silence\nx.example,silence,maybe\n",
     ["line 2: severity must be one of", "line 4: 'bad domain' is not a domain",
      "line 5: ok.example is already on line 3", "line 6: reject_media must be true or false"]),
    (f"{HEADER}\na.example,silence,false,false,,false,extra\n", ["line 2: 7 fields, but the header names 6"]),
])
def test_malformed_files_name_every_bad_line(text, problems):
    with pytest.raises(DomainCsvError) as raised:
        parse_blocks(text)
    assert len(raised.value.problems) == len(problems)
    for found, expected in zip(raised.value.problems, problems, strict=True):
        assert found.startswith(expected), found


async def test_dry_run_then_import_then_export(ctx):
    async with ctx.database.transaction() as session:
        await save_block(session, BlockEntry("spam.example", "suspend", public_comment="Sends spam",
                                             private_comment="known pill seller"), by=None, via="cli")
        await save_block(session, BlockEntry("rude.example", "noop"), by=None, via="cli")
    parsed = parse_blocks(GOOD)
    async with ctx.database.transaction() as session:
        plan = await plan_import(session, parsed)
    assert [(planned.domain, planned.change) for planned in plan] == [
        ("spam.example", "unchanged"), ("rude.example", "updated"), ("pics.example", "added")]
    async with ctx.database.session() as session:
        assert len((await session.exec(select(DomainBlock))).all()) == 2  # the dry run wrote nothing
    async with ctx.database.transaction() as session:
        await apply_import(session, parsed, by=None, via="cli")
    async with ctx.database.session() as session:
        rows = {row.domain: row for row in (await session.exec(select(DomainBlock))).all()}
        audited = [(entry.action, entry.target) for entry in await entries(session, action="domain_block.")]
    assert rows["spam.example"].private_comment == "known pill seller"
    assert (rows["rude.example"].severity, rows["rude.example"].obfuscate) == ("silence", True)
    assert audited[:2] == [("domain_block.create", "pics.example"), ("domain_block.update", "rude.example")]
    exported = export_blocks(list(rows.values()))
    assert exported.splitlines()[0] == HEADER and "known pill seller" not in exported
    assert parse_blocks(exported) == sorted(parsed, key=lambda entry: entry.domain)

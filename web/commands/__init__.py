"""Pieces every `rounds` command group shares. Each module here (domains, reports, network, …)
has `register(commands)`, which adds its sub-parser to the `rounds` parser in `web.cli`.

A handler is `async def handler(ctx: AppContext, args) -> int` (set `needs_context=True`), and
raises `CommandError` for anything the person asked that cannot be done: `web.cli` prints it as
one line on stderr and exits 1.
"""

from __future__ import annotations

from storage.migrate import current_revision, head_revision
from web.context import AppContext


class CommandError(Exception):
    """A command cannot do what was asked; the message is printed as is."""


async def require_migrated(ctx: AppContext) -> None:
    revision = await current_revision(ctx.database)
    if revision != head_revision():
        raise CommandError(
            f"the database at {ctx.settings.database_url} is not ready "
            f"(revision {revision or 'none'}, expected {head_revision()}): run `rounds init`"
        )

"""Several small lookups in one statement.

A page of statuses asks a dozen small questions (which of these did the viewer favourite,
bookmark, pin; how many boosts, replies, favourites has each). Each answer takes well under a
millisecond of the database's time; the round trip through SQLAlchemy and the driver takes
more. `combined` asks them all as one `UNION ALL`, each part's rows labelled with its name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, String, literal, union_all
from sqlmodel.ext.asyncio.session import AsyncSession

_PART = "combined_part"


async def combined(session: AsyncSession, parts: dict[str, Select[Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of each of `parts`, by name, from one statement.

    The parts must select the same number of columns, of types the database can unite (a
    column may be NULL in some parts: put first a part where every column has its real type,
    because the first part's types decide how values are read back). Every name is in the
    answer, with no rows when its part found none.
    """
    found: dict[str, list[tuple[Any, ...]]] = {name: [] for name in parts}
    if not parts:
        return found
    labelled = [query.add_columns(literal(name, String).label(_PART)) for name, query in parts.items()]
    statement = labelled[0] if len(labelled) == 1 else union_all(*labelled)
    for row in (await session.execute(statement)).all():
        found[row[-1]].append(tuple(row[:-1]))
    return found

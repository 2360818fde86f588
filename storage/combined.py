"""Several small lookups in one statement.

A page of statuses asks a dozen small questions (which of these did the viewer favourite,
bookmark, pin; how many boosts, replies, favourites has each). Each answer takes well under a
millisecond of the database's time; the round trip through SQLAlchemy and the driver takes
more. `combined` asks them all as one `UNION ALL`, each part's rows labelled with its name.

Building the statement costs more than running it: a page's hot lookups are `Combined`
statements built once at import, their values passed as bind parameters (`storage.prepared`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, String, literal, union_all
from sqlmodel.ext.asyncio.session import AsyncSession

_PART = "combined_part"


class Combined:
    """Named lookups as one statement, built once; `run` asks them with the values of their
    bind parameters.

    The parts must select the same number of columns, of types the database can unite (a
    column may be NULL in some parts: put first a part where every column has its real type,
    because the first part's types decide how values are read back).
    """

    def __init__(self, parts: Mapping[str, Select[Any]]) -> None:
        if not parts:
            raise ValueError("Combined needs at least one part")
        self.names = tuple(parts)
        labelled = [query.add_columns(literal(name, String).label(_PART)) for name, query in parts.items()]
        self.statement = labelled[0] if len(labelled) == 1 else union_all(*labelled)

    async def run(self, session: AsyncSession, params: Mapping[str, Any] | None = None,
                  ) -> dict[str, list[tuple[Any, ...]]]:
        """The rows of each part, by name; every name is in the answer, with no rows when its
        part found none."""
        found: dict[str, list[tuple[Any, ...]]] = {name: [] for name in self.names}
        for row in (await session.execute(self.statement, dict(params or {}))).all():
            found[row[-1]].append(tuple(row[:-1]))
        return found


async def combined(session: AsyncSession, parts: Mapping[str, Select[Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of each of `parts`, by name, from one statement built for this call (see `Combined`)."""
    if not parts:
        return {}
    return await Combined(parts).run(session)

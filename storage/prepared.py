"""Bind parameters for statements built once.

Building a SQLAlchemy statement (each comparison, each `IN`, each `EXISTS`) costs more Python
time than SQLite takes to run it: a home-timeline page spent about a third of its CPU making
the same statements anew. The hot paths build theirs once, at import, with these parameters
in place of values, and pass the values when they run them. SQLAlchemy then also keys and
compiles each statement once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, bindparam

VIEWER = bindparam("viewer_id")  # the signed-in person's actor id
NOW = bindparam("now")  # the current time, for conditions such as a mute's expiry


def many(name: str) -> BindParameter[Any]:
    """A list of values for `IN`, as long as each run needs (an empty list matches nothing)."""
    return bindparam(name, expanding=True)

"""The home-timeline workload's data, written straight into the tables (not through the API):
remote accounts, a million statuses among them, and local readers following some of them.

Rows are built from the table models' own defaults (a `Status(...)`'s dump is the template every
status row varies), then written in chunks: `executemany` in one connection on SQLite, COPY on
PostgreSQL. What the statuses hold, so that the home query does what it does in life: ids that
sort by time (as `storage.ids` makes them), authors drawn at random, one in ten a reply, one in
twenty a boost (of a public post, so that every engine and the baseline agree on each page),
mostly public, some unlisted and followers-only posts. No media, mentions or tags: the page's
renderer loads those in one query each whatever they hold.

The readers are local accounts with tokens, made through the ORM (there are few of them;
`make_readers` is shared with the other workloads); each follows its own random sample of the
accounts.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlmodel import SQLModel

from actors.urls import LocalUrls
from storage.engine import Database
from storage.ids import SEQUENCE_BITS, new_id
from storage.tables import Actor, Follow, Status, User
from web.auth import issue_token
from web.oauth import OOB, create_app_row

CHUNK = 50_000
SPAN_SECONDS = 90 * 24 * 3600  # the statuses were posted over the last ninety days
PHRASES = ("Ward round at eight: two admissions overnight, both stable.",
           "Reminder that the visiting hours change on Monday.",
           "The new infusion pumps arrive this week; training sessions are in the seminar room.",
           "Thanks to the night team for covering the extra beds.",
           "Journal club moved to Thursday, same time.",
           "Flu vaccination clinic for staff runs all week on level two.")


@dataclass
class Seeded:
    """The readers made for each follow count: (actor id, access token) each."""

    readers: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    statuses: int = 0
    seconds: float = 0.0


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):  # as SQLAlchemy's SQLite DateTime stores it (UTC, no zone)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def _postgres_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


class BulkWriter:
    """Rows into a table by its fastest path: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, database_url: str) -> None:
        url = sa.engine.make_url(database_url)
        self.is_sqlite = url.drivername.startswith("sqlite")
        self.url = url
        self.value: Callable[[Any], Any] = _sqlite_value if self.is_sqlite else _postgres_value
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: asyncpg.Connection | None = None

    async def __aenter__(self) -> BulkWriter:
        if self.is_sqlite:
            self._sqlite = sqlite3.connect(self.url.database or "", isolation_level=None)
            # A bulk load of benchmark data: no fsync, a big page cache (the served database is
            # opened afresh by `rounds serve`, with its own settings).
            for pragma in ("synchronous=OFF", "cache_size=-400000", "temp_store=MEMORY"):
                self._sqlite.execute(f"PRAGMA {pragma}")
        else:
            plain = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._postgres = await asyncpg.connect(plain)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._postgres is not None:
            await self._postgres.close()

    async def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if self._sqlite is not None:
            marks = ", ".join("?" * len(columns))
            self._sqlite.execute("BEGIN")
            self._sqlite.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
            self._sqlite.execute("COMMIT")
        else:
            assert self._postgres is not None
            await self._postgres.copy_records_to_table(table, records=rows, columns=list(columns))

    async def settle(self) -> None:
        """What PostgreSQL's autovacuum does soon after a table grows this much (statistics, and
        the visibility map that lets an index answer alone), done now rather than during the
        measurements. SQLite is left as Rounds leaves it: Rounds never runs ANALYZE there."""
        if self._postgres is not None:
            await self._postgres.execute("VACUUM (ANALYZE)")

    def rows(self, models: Iterable[SQLModel]) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The models' rows in their table's column order (every default filled in by the model)."""
        dumped = [model.model_dump() for model in models]
        columns = list(dumped[0]) if dumped else []
        return columns, [tuple(self.value(row[name]) for name in columns) for row in dumped]


def _status_id(moment_ms: int, number: int) -> int:
    return (moment_ms << SEQUENCE_BITS) | (number & 0xFF)


async def seed_home(database_url: str, base_url: str, *, statuses: int, accounts: int,
                    follow_counts: Sequence[int], readers_each: int,
                    progress: Callable[[str], None] = print, rng_seed: int = 8) -> Seeded:
    """`accounts` remote accounts, `statuses` statuses among them, and `readers_each` local
    readers (with tokens) for each count in `follow_counts`, each following that many accounts."""
    began = time.perf_counter()
    rng = random.Random(rng_seed)
    seeded = Seeded(statuses=statuses)
    urls = LocalUrls(base_url)
    now = datetime.now(UTC)
    async with BulkWriter(database_url) as writer:
        # --- the accounts: remote, on fifty hosts nobody asks (nothing here fetches them)
        authors = []
        for number in range(accounts):
            host = f"h{number % 50}.bench.example"
            uri = f"https://{host}/users/u{number}"
            authors.append(Actor(id=new_id(), uri=uri, username=f"u{number}", username_key=f"u{number}",
                                 domain=host, display_name=f"Clinician {number}", inbox_uri=f"{uri}/inbox",
                                 shared_inbox_uri=f"https://{host}/inbox", followers_uri=f"{uri}/followers",
                                 url=f"https://{host}/@u{number}", key_id=f"{uri}#main-key", fetched_at=now))
        columns, rows = writer.rows(authors)
        await writer.write("actors", columns, rows)
        progress(f"{accounts:,} accounts")

        # --- the statuses, oldest first, in chunks
        template = Status(id=0, uri="", actor_id=0, local=False, created_at=now).model_dump()
        columns = list(template)
        where = {name: index for index, name in enumerate(columns)}
        blank = [writer.value(template[name]) for name in columns]
        first_ms = int(now.timestamp() * 1000) - SPAN_SECONDS * 1000
        step_ms = max(1, SPAN_SECONDS * 1000 // max(statuses, 1))
        recent_public: list[tuple[int, str]] = []  # (id, uri) of recent public originals, to boost and answer
        chunk: list[tuple[Any, ...]] = []
        for number in range(statuses):
            moment_ms = first_ms + number * step_ms
            status_id = _status_id(moment_ms, number)
            author = authors[rng.randrange(accounts)]
            row = list(blank)
            row[where["id"]] = status_id
            row[where["actor_id"]] = author.id
            row[where["created_at"]] = writer.value(datetime.fromtimestamp(moment_ms / 1000, UTC))
            roll = rng.random()
            if roll < 0.05 and recent_public:
                original_id, _ = recent_public[rng.randrange(len(recent_public))]
                row[where["uri"]] = f"{author.uri}/statuses/{status_id}/activity"
                row[where["reblog_of_id"]] = original_id
                row[where["content"]] = ""
            else:
                uri = f"{author.uri}/statuses/{status_id}"
                row[where["uri"]] = uri
                row[where["url"]] = f"{author.url}/{status_id}"
                row[where["content"]] = f"<p>{PHRASES[number % len(PHRASES)]} (#{number})</p>"
                row[where["visibility"]] = "public" if roll < 0.85 else "unlisted" if roll < 0.95 else "private"
                if recent_public and rng.random() < 0.1:
                    row[where["in_reply_to_uri"]] = recent_public[rng.randrange(len(recent_public))][1]
                if roll < 0.85:
                    recent_public.append((status_id, uri))
                    if len(recent_public) > 2_000:
                        del recent_public[:1_000]
            chunk.append(tuple(row))
            if len(chunk) == CHUNK or number == statuses - 1:
                await writer.write("statuses", columns, chunk)
                chunk = []
                if (number + 1) % (4 * CHUNK) == 0 or number == statuses - 1:
                    progress(f"{number + 1:,} statuses ({time.perf_counter() - began:.0f} s)")

        # --- the readers, each following its own random sample of the accounts
        follows = []
        for count in follow_counts:
            seeded.readers[count] = await make_readers(database_url, urls, f"reader{count}_", readers_each)
            for reader_id, _token in seeded.readers[count]:
                for author in rng.sample(authors, min(count, accounts)):
                    follows.append(Follow(id=new_id(), follower_id=reader_id, followee_id=author.id,
                                          state="accepted", created_at=now))
        columns, rows = writer.rows(follows)
        for start in range(0, len(rows), CHUNK):
            await writer.write("follows", columns, rows[start:start + CHUNK])
        progress(f"{len(follow_counts) * readers_each} readers following {', '.join(map(str, follow_counts))} "
                 f"accounts ({len(follows):,} follows)")
        await writer.settle()
    seeded.seconds = time.perf_counter() - began
    return seeded


async def make_readers(database_url: str, urls: LocalUrls, prefix: str, count: int) -> list[tuple[int, str]]:
    """`count` local accounts, `{prefix}0` onwards, each with an access token granting `read`
    (no keys: reading needs none); their actor ids and tokens."""
    database = Database(database_url)
    readers = []
    try:
        async with database.transaction() as session:
            app = await create_app_row(session, "Rounds bench", [OOB], ("read",))
            for number in range(count):
                username = f"{prefix}{number}"
                uri = urls.actor(username)
                actor = Actor(id=new_id(), uri=uri, username=username, username_key=username.lower(), domain=None,
                              display_name=username, url=urls.profile(username), inbox_uri=urls.inbox(username),
                              outbox_uri=urls.outbox(username), shared_inbox_uri=urls.shared_inbox,
                              followers_uri=urls.followers(username), following_uri=urls.following(username),
                              key_id=urls.key_id(uri))
                session.add(actor)
                await session.flush()  # the actor's row before the user's (no relationship orders them)
                user = User(id=new_id(), actor_id=actor.id, email=f"{username.lower()}@bench.example",
                            password_hash="!", role="member")
                session.add(user)
                await session.flush()
                plain, _row = await issue_token(session, app, user.id, ("read",))
                readers.append((actor.id, plain))
    finally:
        await database.dispose()
    return readers


def seed_home_sync(*args: Any, **kwargs: Any) -> Seeded:
    return asyncio.run(seed_home(*args, **kwargs))

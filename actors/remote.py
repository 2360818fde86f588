"""Remote actors: a cache in the `actors` table, filled by signed fetches, and their keys.

Actors on a domain the policy refuses (suspended, or outside the network or allowlist) are
never fetched. Key lookup for signature checks: memory first, then the table, then a fetch of the key's
actor. After a failed verification with a cached key the caller may ask for a refresh,
which refetches at most once per `refresh_interval` per actor (key rotation, without
letting a flood of bad signatures make us fetch endlessly).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.urls import LocalUrls
from federation.documents import DocumentError, RemoteActorDocument, host_of, parse_actor
from federation.fetch import Fetcher, FetchError
from federation.httpsig import SignatureError, load_public_key_pem
from moderation.policy import DomainPolicy
from storage.engine import Database
from storage.tables import Actor

log = logging.getLogger("rounds.actors")


class ActorUnavailable(Exception):
    """A remote actor or key could not be fetched or did not parse; `reason` says why."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"{uri}: {reason}")
        self.uri = uri
        self.reason = reason


@dataclass(frozen=True)
class ActorKey:
    actor_id: int
    actor_uri: str
    key: PublicKeyTypes


def _without_fragment(uri: str) -> str:
    return uri.split("#", 1)[0]


class RemoteActors:
    def __init__(
        self,
        database: Database,
        fetcher: Fetcher,
        urls: LocalUrls,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        refresh_interval: timedelta = timedelta(minutes=5),
        policy: DomainPolicy | None = None,
    ) -> None:
        self._database = database
        self._fetcher = fetcher
        self._urls = urls
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._policy = policy
        self._keys: dict[str, ActorKey] = {}
        self._fetched_at: dict[str, datetime] = {}

    # --- actors ---------------------------------------------------------------------------

    async def find(self, session: AsyncSession, uri: str) -> Actor | None:
        found = await session.exec(select(Actor).where(Actor.uri == uri))
        return found.first()

    async def resolve(self, uri: str, *, refresh: bool = False, key_id: str | None = None) -> Actor:
        """The actor at `uri`, from the cache, or fetched (signed) when unknown or `refresh`.
        With `key_id`, a fetched document that does not list that key is refused, not stored."""
        uri = _without_fragment(uri)
        if not refresh:
            async with self._database.session() as session:
                actor = await self.find(session, uri)
            if actor is not None:
                return actor
        if self._urls.local_username(uri) is not None or uri == self._urls.instance_actor:
            raise ActorUnavailable(uri, "local actors are not fetched")
        if self._policy is not None:
            try:
                refusal = (await self._policy.load(self._database)).refusal(host_of(uri))
            except DocumentError:
                refusal = "not an http(s) URL"
            if refusal:
                raise ActorUnavailable(uri, refusal)
        try:
            document = parse_actor(await self._fetcher.fetch_activity(uri))
        except FetchError as error:
            raise ActorUnavailable(uri, str(error)) from None
        except DocumentError as error:
            raise ActorUnavailable(uri, f"not a usable actor: {error}") from None
        if document.uri != uri:
            raise ActorUnavailable(uri, f"the document names itself {document.uri}")
        if key_id is not None and document.key_id != key_id:
            raise ActorUnavailable(key_id, f"the actor {uri} does not list this key")
        self._fetched_at[uri] = self._clock()
        return await self._store(document)

    async def _store(self, document: RemoteActorDocument) -> Actor:
        for _attempt in range(2):  # a concurrent insert of the same actor wins; then we update
            try:
                async with self._database.transaction() as session:
                    actor = await self.find(session, document.uri)
                    if actor is None:
                        actor = Actor(uri=document.uri)
                    elif actor.public_key_pem and actor.public_key_pem != document.public_key_pem:
                        # Origin-checked fetch, so the new key is the actor's own; say so in the log.
                        log.warning("actor %s changed its public key", document.uri)
                        self._keys.pop(actor.key_id or "", None)
                    _apply(actor, document, self._clock())
                    session.add(actor)
                return actor
            except IntegrityError:
                continue
        raise ActorUnavailable(document.uri, "could not be stored")

    def apply_update(self, actor: Actor, document: RemoteActorDocument) -> None:
        """An actor's own `Update` of itself (signature checked by the inbox): take the new profile.

        A key announced this way replaces the old one at once, in memory too, so the old key
        stops verifying in this process.
        """
        if actor.uri != document.uri:
            raise ValueError("an actor can only update itself")
        if actor.key_id:
            self._keys.pop(actor.key_id, None)
        _apply(actor, document, self._clock())

    # --- keys -----------------------------------------------------------------------------

    async def key(self, key_id: str) -> ActorKey:
        """The public key named `key_id` and its owner: memory, table, then a fetch."""
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        async with self._database.session() as session:
            found = await session.exec(select(Actor).where(Actor.key_id == key_id))
            actor = found.first()
        if actor is None:
            actor = await self.resolve(_without_fragment(key_id), key_id=key_id)
            if actor.key_id != key_id:
                raise ActorUnavailable(key_id, f"the actor {actor.uri} does not list this key")
        return self._remember(actor)

    async def refreshed_key(self, key_id: str) -> ActorKey | None:
        """After a failed check: refetch the key's actor, unless done within the interval."""
        cached = self._keys.get(key_id)
        actor_uri = cached.actor_uri if cached else _without_fragment(key_id)
        last = self._fetched_at.get(actor_uri)
        if last is not None and self._clock() - last < self._refresh_interval:
            return None
        actor = await self.resolve(actor_uri, refresh=True)
        if actor.key_id != key_id:
            self._keys.pop(key_id, None)
            return None
        self._keys.pop(key_id, None)
        return self._remember(actor)

    def _remember(self, actor: Actor) -> ActorKey:
        if not actor.key_id or not actor.public_key_pem:
            raise ActorUnavailable(actor.uri, "has no public key")
        try:
            key = load_public_key_pem(actor.public_key_pem)
        except SignatureError as error:
            raise ActorUnavailable(actor.uri, f"unusable public key: {error}") from None
        entry = ActorKey(actor_id=actor.id, actor_uri=actor.uri, key=key)
        self._keys[actor.key_id] = entry
        return entry


def _apply(actor: Actor, document: RemoteActorDocument, now: datetime) -> None:
    actor.username = document.username
    actor.username_key = document.username.lower()
    actor.domain = host_of(document.uri)
    actor.actor_type = document.actor_type
    actor.display_name = document.display_name
    actor.summary = document.summary
    actor.url = document.url
    actor.inbox_uri = document.inbox
    actor.outbox_uri = document.outbox
    actor.shared_inbox_uri = document.shared_inbox
    actor.followers_uri = document.followers
    actor.following_uri = document.following
    actor.key_id = document.key_id
    actor.public_key_pem = document.public_key_pem
    actor.locked = document.locked
    actor.discoverable = document.discoverable
    actor.indexable = document.indexable
    actor.fields = [{"name": name, "value": value} for name, value in document.fields]
    actor.avatar_url = document.avatar
    actor.header_url = document.header
    actor.updated_at = now
    actor.fetched_at = now

"""Accept a delivery: verify → signer owns the actor → domain allowed → persist → 202.

Nothing is stored, fetched for processing or acted upon before the signature holds
(security checklist A10). The answer is a value: `Accepted` or `Rejected(status, reason)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from actors.remote import ActorUnavailable, RemoteActors
from federation.documents import DocumentError, host_of, id_of, type_of
from federation.httpsig import SignatureError, SignedRequest, parse_signature, verify_signature
from federation.jsonutil import InvalidJSON, JSONTooDeep, loads_bounded
from moderation.policy import DomainPolicy
from storage.batches import GroupWriter
from storage.engine import Database
from storage.ids import new_id
from storage.tables import InboxItem

ACCEPTED_CONTENT_TYPES = ("application/activity+json", "application/ld+json", "application/json")


@dataclass(frozen=True)
class Accepted:
    activity_id: str
    duplicate: bool
    scheme: str  # the signature scheme that was verified: "cavage" or "rfc9421"


@dataclass(frozen=True)
class Rejected:
    status: int
    reason: str


@dataclass(frozen=True)
class Delivery:
    """An inbox POST as it arrived: the raw body, so the digest is checked on the bytes sent."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


async def accept(
    delivery: Delivery,
    *,
    database: Database,
    store: InboxStore,
    actors: RemoteActors,
    policy: DomainPolicy,
    now: datetime,
) -> Accepted | Rejected:
    content_type = delivery.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in ACCEPTED_CONTENT_TYPES:
        return Rejected(415, f"content type must be application/activity+json, not {content_type!r}")
    try:
        signature = parse_signature(
            SignedRequest(delivery.method, delivery.url, delivery.headers, delivery.body), now=now
        )
    except SignatureError as error:
        return Rejected(401, f"signature refused: {error.reason}")
    try:
        key_host = host_of(signature.key_id)
    except DocumentError:
        return Rejected(401, "signature keyId is not an http(s) URL")
    # Refuse a blocked domain before fetching anything from it (checklist A13). The policy is a
    # snapshot cached for a few seconds: no query here on most requests.
    rules = await policy.load(database)
    refusal = rules.refusal(key_host)
    if refusal:
        return Rejected(403, refusal)
    try:
        activity = loads_bounded(delivery.body)
    except (InvalidJSON, JSONTooDeep) as error:
        return Rejected(400, str(error))
    if not isinstance(activity, dict):
        return Rejected(400, "an activity must be a JSON object")
    try:
        activity_id = id_of(activity.get("id"))
        activity_type = type_of(activity)
        actor_uri = id_of(activity.get("actor"), "actor")
    except DocumentError as error:
        return Rejected(400, f"not an activity: {error}")
    if host_of(activity_id) != host_of(actor_uri):
        return Rejected(400, "the activity's id is not on its actor's host")
    refusal = rules.actor_refusal(actor_uri) or rules.refusal(host_of(actor_uri))
    if refusal:
        return Rejected(403, refusal)

    try:
        key = await actors.key(signature.key_id)
    except ActorUnavailable as error:
        return Rejected(401, f"signature key unavailable: {error.reason}")
    if not _verifies(signature, key.key):
        try:
            refreshed = await actors.refreshed_key(signature.key_id)
        except ActorUnavailable:
            refreshed = None
        if refreshed is None or not _verifies(signature, refreshed.key):
            return Rejected(401, "signature does not match the key")
        key = refreshed
    if key.actor_uri != actor_uri and activity_type != "Delete":
        return Rejected(401, f"signed by {key.actor_uri}, but the activity's actor is {actor_uri}")
    refusal = rules.actor_refusal(key.actor_uri)
    if refusal:
        return Rejected(403, refusal)
    # A Delete signed by someone else is one forwarded by a server that boosted the post: kept
    # under its signer, and applied only once its origin confirms the post is gone (inbox.forwarding).
    stored = await store.add(activity_id, activity_type, key.actor_uri, delivery.body, now)
    return Accepted(activity_id=activity_id, duplicate=not stored, scheme=signature.scheme)


def _verifies(signature, key) -> bool:
    try:
        verify_signature(signature, key)
    except SignatureError:
        return False
    return True


class InboxStore:
    """Keeps accepted activities for the inbox worker, once by activity id.

    The activities accepted at the same moment are inserted in one statement (`storage.batches`):
    on SQLite, with its one writer, 64 requests in flight otherwise queue for the write lock one
    insert at a time. Each request still answers 202 only once its row is committed.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._batches: GroupWriter[dict[str, object], bool] = GroupWriter(self._insert)

    async def add(self, activity_id: str, activity_type: str, actor_uri: str, body: bytes, now: datetime) -> bool:
        """Store the activity unless one with its id is stored; returns whether it was new."""
        return await self._batches.write({
            "id": new_id(), "activity_id": activity_id, "activity_type": activity_type, "actor_uri": actor_uri,
            "body": body.decode("utf-8"), "state": "pending", "attempts": 0, "received_at": now,
            "process_after": now, "outcome": ""})

    async def _insert(self, rows: list[dict[str, object]]) -> list[bool]:
        insert = sqlite_insert if self._database.is_sqlite else postgresql_insert
        firsts = list({row["activity_id"]: row for row in reversed(rows)}.values())  # one per id, the first
        statement = (insert(InboxItem).values(firsts).on_conflict_do_nothing(index_elements=["activity_id"])
                     .returning(InboxItem.id))
        inserted = set((await self._database.write_once(statement)).scalars().all())
        return [row["id"] in inserted for row in rows]

"""What Rounds refuses from the Fedify peer, with each signature scheme, and that nothing of it is kept.

The peer signs a Create by hand with alice's key (Fedify's `signRequest`) and spoils it on the
way: a body changed after signing, a changed signature, no signature, a signature made two
hours ago (a late replay), a key that is not the actor's, a request signed for dr_bo's inbox
replayed to the shared inbox. Rounds answers 401 to each and has no inbox row for it (a
delivery is stored only after its signature holds). The very same signed request sent again
within the signature's time window is answered 202 each time (a sender's retry must not look
like a failure), but stored and shown once: deliveries are kept by activity id.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from storage.engine import Database
from storage.tables.queues import InboxItem
from tests.interop.peer import CAVAGE, RFC9421, FedifyPeer
from tests.support.apps import eventually, person
from tests.support.processes import Instance

pytestmark = pytest.mark.e2e
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
REASONS = {"body": "does not match the body", "signature": "signature does not match the key",
           "unsigned": "the request is not signed", "stale": "too old", "bobs-key": "signed by",
           "elsewhere": "signature does not match the key"}


def stored_activity_ids(instance: Instance) -> set[str]:
    """The activity ids in the instance's inbox table: everything it ever accepted."""
    async def read() -> set[str]:
        database = Database(instance.database_url)
        try:
            async with database.session() as session:
                return set((await session.exec(select(InboxItem.activity_id))).all())
        finally:
            await database.dispose()
    return asyncio.run(read())


def mention(peer: FedifyPeer, to_uri: str, name: str) -> dict:
    """A Create of a public Note by alice mentioning `to_uri`, as Fedify would send it."""
    note = f"{peer.actor('alice')}/notes/raw-{name}"
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/data-integrity/v1"],
        "id": f"{note}/activity", "type": "Create", "actor": peer.actor("alice"), "published": now,
        "to": [PUBLIC], "cc": [to_uri],
        "object": {"id": note, "type": "Note", "attributedTo": peer.actor("alice"), "published": now,
                   "content": f"<p>@dr_bo note {name}</p>", "to": [PUBLIC], "cc": [to_uri],
                   "tag": [{"type": "Mention", "href": to_uri, "name": "@dr_bo"}]},
    }


def mentioned_in(api) -> set[str]:
    return {note["status"]["uri"] for note in api.notifications() if note["type"] == "mention"}


def test_tampered_unsigned_stale_and_borrowed_signatures_are_refused_and_nothing_is_stored(
        peer: FedifyPeer, rounds: Instance):
    bo = person(rounds, "dr_bo", role="staff")
    bo_uri = f"{rounds.base_url}/users/dr_bo"
    inbox = f"{bo_uri}/inbox"
    refused: list[dict] = []
    for spec in (RFC9421, CAVAGE):
        short = "rfc" if spec == RFC9421 else "cavage"
        # The control: signed as it should be, accepted and shown.
        good = mention(peer, bo_uri, f"{short}-good")
        sent = peer("send-raw", **{"as": "alice", "inbox": inbox, "activity": good, "spec": spec})
        assert (sent["status"], sent["scheme"]) == (202, short if spec == CAVAGE else "rfc9421"), sent
        eventually(lambda good=good: good["object"]["id"] in mentioned_in(bo), f"the {spec} mention on Rounds")

        for tamper, settings in [("body", {"tamper": "body"}), ("signature", {"tamper": "signature"}),
                                 ("unsigned", {"tamper": "unsigned"}), ("stale", {"signedSecondsAgo": 7200}),
                                 ("bobs-key", {"as": "bob"}), ("elsewhere", {"sendTo": f"{rounds.base_url}/inbox"})]:
            activity = mention(peer, bo_uri, f"{short}-{tamper}")
            answer = peer("send-raw", **({"as": "alice", "inbox": inbox, "activity": activity, "spec": spec}
                                         | settings))
            assert answer["status"] == 401, (spec, tamper, answer)
            assert REASONS[tamper] in answer["body"], (spec, tamper, answer)
            refused.append(activity)
        assert not {activity["id"] for activity in refused} & stored_activity_ids(rounds)

    # A replay of the very same signed request: answered, but stored and shown once.
    replayed = mention(peer, bo_uri, "replayed")
    sent = peer("send-raw", **{"as": "alice", "inbox": inbox, "activity": replayed, "repeat": 3})
    assert sent["statuses"] == [202, 202, 202]
    eventually(lambda: replayed["object"]["id"] in mentioned_in(bo), "the replayed mention on Rounds")
    accepted = {activity_id for activity_id in stored_activity_ids(rounds) if "/notes/raw-" in activity_id}
    assert accepted == {f"{peer.actor('alice')}/notes/raw-{name}/activity"
                        for name in ("rfc-good", "cavage-good", "replayed")}
    notes = [note["status"]["uri"] for note in bo.notifications() if note["type"] == "mention"]
    assert sorted(notes) == sorted({activity["object"]["id"] for activity in [replayed]} | {
        f"{peer.actor('alice')}/notes/raw-{name}" for name in ("rfc-good", "cavage-good")})
    for activity in refused:
        assert bo.search_v2(activity["object"]["id"], resolve=False, result_type="statuses")["statuses"] == []

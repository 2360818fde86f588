"""Fedify's documents as Rounds receives them: extra JSON-LD contexts, proofs and LD signatures.

Fedify's actors carry the DID, multikey and data-integrity contexts and Multikey assertion
methods; its activities carry the identity, data-integrity and GoToSocial contexts, Mastodon's
and Misskey's namespaces, a FEP-8b32 object integrity proof and an RsaSignature2017 LD
signature. Rounds must take them all offline, use what it knows and ignore the rest, and never
fetch a context: one named on the peer itself is never asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.interop.peer import FedifyPeer, assert_every_request_verified
from tests.support.apps import eventually, person
from tests.support.processes import Instance

pytestmark = pytest.mark.e2e
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def test_rounds_takes_fedify_documents_with_their_contexts_proofs_and_signatures(
        peer: FedifyPeer, rounds: Instance):
    ann = person(rounds, "ann", role="staff")
    ann_uri = f"{rounds.base_url}/users/ann"
    alice = ann.search_v2(peer.handle("alice"), resolve=True, result_type="accounts")["accounts"][0]
    ann.account_follow(alice["id"])
    eventually(lambda: ann.account_relationships(alice["id"])[0]["following"], "Fedify's Accept on Rounds")

    note = peer("post", **{"as": "alice", "content": "<p>Handover at seven</p>"})["id"]
    eventually(lambda: note in {status["uri"] for status in ann.timeline_home()}, "the note in ann's home")
    creates = [entry for entry in peer.state()["outgoing"]
               if entry["method"] == "POST" and entry["url"].startswith(rounds.base_url)
               and entry["body"]["type"] == "Create"]
    assert [entry["status"] for entry in creates] == [202]
    body = creates[0]["body"]
    contexts = body["@context"]
    for named in ("https://w3id.org/identity/v1", "https://w3id.org/security/data-integrity/v1",
                  "https://gotosocial.org/ns"):
        assert named in contexts
    assert any(isinstance(entry, dict) and entry.get("toot") == "http://joinmastodon.org/ns#" for entry in contexts)
    assert body["proof"]["type"] == "DataIntegrityProof" and body["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert body["signature"]["type"] == "RsaSignature2017"

    # A context Rounds does not know, on the peer: the activity is taken, the context never fetched.
    unknown = f"{peer.origin}/contexts/not-served.jsonld"
    note_id = f"{peer.actor('alice')}/notes/with-unknown-context"
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    activity = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1", unknown,
                     {"pt": "https://patients.example/ns#", "ward": "pt:ward"}],
        "id": f"{note_id}/activity", "type": "Create", "actor": peer.actor("alice"), "published": now,
        "to": [PUBLIC], "cc": [ann_uri, f"{peer.actor('alice')}/followers"],
        "object": {"id": note_id, "type": "Note", "attributedTo": peer.actor("alice"), "published": now,
                   "content": "<p>Ward seven is quiet</p>", "ward": "7", "to": [PUBLIC],
                   "cc": [f"{peer.actor('alice')}/followers"]},
    }
    sent = peer("send-raw", **{"as": "alice", "inbox": f"{ann_uri}/inbox", "activity": activity})
    assert sent["status"] == 202, sent
    shown = eventually(lambda: [status for status in ann.timeline_home() if status["uri"] == note_id],
                       "the note with an unknown context in ann's home")
    assert "Ward seven is quiet" in shown[0]["content"]
    assert not [entry for entry in peer.state()["served"] if entry["path"].startswith("/contexts/")]
    assert_every_request_verified(peer, rounds)

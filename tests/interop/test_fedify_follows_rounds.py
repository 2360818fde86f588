"""A Fedify actor follows people on Rounds and receives what they post.

Fedify (tests/js/fedify_peer.mjs) is a real server on loopback: it finds Rounds people by
WebFinger, fetches and parses their actors, sends signed Follows and Undos, and verifies the
signature of every activity Rounds delivers to it before its inbox listeners see it. Rounds is
driven only through its CLI and client API.
"""

from __future__ import annotations

import pytest

from tests.interop.peer import RFC9421, FedifyPeer, assert_every_request_verified
from tests.support.apps import eventually, person
from tests.support.processes import Instance

pytestmark = pytest.mark.e2e


def handled_notes(peer: FedifyPeer, kind: str) -> dict[str, dict]:
    """Notes Fedify's listeners got in `kind` activities (Create, Update), by id."""
    return {entry["object"]: entry["json"]["object"] for entry in peer.handled(kind) if entry["object"]}


def test_fedify_follows_an_unlocked_and_a_locked_person_and_receives_posts_edits_deletes(
        peer: FedifyPeer, rounds: Instance):
    bo = person(rounds, "dr_bo", role="staff")  # unlocked
    cy = person(rounds, "cy")  # a patient: approves her followers

    found = peer("webfinger", handle=f"dr_bo@{rounds.domain}")
    assert found["subject"] == f"acct:dr_bo@{rounds.domain}"
    bo_uri = found["actor"]
    cy_uri = peer("webfinger", handle=f"cy@{rounds.domain}")["actor"]

    # Unlocked: accepted at once. Locked: pending until cy approves in her app.
    peer("follow", **{"as": "alice", "target": bo_uri})
    eventually(lambda: peer.following("alice", bo_uri) == "accepted", "dr_bo's Accept at Fedify")
    assert [account["acct"] for account in bo.account_followers(bo.me()["id"])] == [peer.handle("alice")]
    peer("follow", **{"as": "alice", "target": cy_uri})
    requests = eventually(lambda: cy.follow_requests(), "alice's request on Rounds")
    assert [account["acct"] for account in requests] == [peer.handle("alice")]
    assert peer.following("alice", cy_uri) == "pending"
    assert cy.account_followers(cy.me()["id"]) == []
    cy.follow_request_authorize(requests[0]["id"])
    eventually(lambda: peer.following("alice", cy_uri) == "accepted", "cy's Accept at Fedify")

    # Posts, a reply, a followers-only post, an edit and a deletion reach Fedify.
    public = bo.status_post("Clinic open on Saturday", visibility="public")
    reply = bo.status_post("from nine to noon", in_reply_to_id=public["id"], visibility="public")
    private = cy.status_post("only for my followers", visibility="private")
    created = eventually(lambda: (notes := handled_notes(peer, "Create")).keys() >= {
        public["uri"], reply["uri"], private["uri"]} and notes, "the three Creates at Fedify")
    assert "Clinic open on Saturday" in created[public["uri"]]["content"]
    assert created[reply["uri"]]["inReplyTo"] == public["uri"]
    assert created[private["uri"]]["attributedTo"] == cy_uri
    assert "https://www.w3.org/ns/activitystreams#Public" not in str(created[private["uri"]])
    bo.status_update(public["id"], "Clinic open on Saturday and Sunday")
    updated = eventually(lambda: handled_notes(peer, "Update").get(public["uri"]), "the Update at Fedify")
    assert "Sunday" in updated["content"]
    # alice answers, boosts and likes on her side: Rounds takes each from Fedify.
    answer = peer("post", **{"as": "alice", "content": f"<p>@dr_bo@{rounds.domain} thanks!</p>",
                             "inReplyTo": public["uri"], "mentions": [bo_uri]})["id"]
    peer("announce", **{"as": "alice", "object": public["uri"], "author": bo_uri})
    peer("like", **{"as": "alice", "object": public["uri"], "author": bo_uri})
    eventually(lambda: [status["uri"] for status in bo.status_context(public["id"])["descendants"]]
               == [reply["uri"], answer], "alice's answer in the thread on Rounds")
    eventually(lambda: (counts := bo.status(public["id"]))["reblogs_count"] == 1 and counts["favourites_count"] == 1,
               "the boost and the like on Rounds")
    assert {note["type"] for note in bo.notifications()} >= {"follow", "mention", "reblog", "favourite"}
    bo.status_delete(reply["id"])
    eventually(lambda: any(entry["object"] == reply["uri"] for entry in peer.handled("Delete")),
               "the Delete at Fedify")

    # alice unfollows dr_bo: Rounds takes the Undo, and his next post goes to cy's follower only.
    peer("unfollow", **{"as": "alice", "target": bo_uri})
    eventually(lambda: bo.account_followers(bo.me()["id"]) == [], "alice's Undo on Rounds")
    after = bo.status_post("after alice left", visibility="public")
    last = cy.status_post("cy again", visibility="private")
    eventually(lambda: last["uri"] in handled_notes(peer, "Create"), "cy's second post at Fedify")
    assert after["uri"] not in handled_notes(peer, "Create")

    # Fedify verified every delivery, and Rounds took every activity Fedify sent.
    assert_every_request_verified(peer, rounds)
    assert {entry["scheme"] for entry in peer.inbox_posts()} == {RFC9421}  # cavage: see test_signature_schemes

"""Both HTTP signature schemes, each way, between Rounds and Fedify.

Inbound: Fedify's first knock is RFC 9421 and its fallback draft-cavage; with each forced first,
Rounds must accept that one (a request carries one scheme, and Fedify only knocks again after a
refusal, so the scheme of the request Rounds answered 202 is the one it verified). Outbound:
Rounds knocks with RFC 9421, which Fedify verifies; a peer that refuses RFC 9421 (as Mastodon
does) gets draft-cavage, which Fedify verifies too, and from then on only cavage.
"""

from __future__ import annotations

import pytest

from tests.interop.peer import CAVAGE, RFC9421, FedifyPeer
from tests.support.apps import eventually, person
from tests.support.processes import Instance

pytestmark = pytest.mark.e2e


def posts_to(peer: FedifyPeer, instance: Instance) -> list[dict]:
    """Fedify's POSTs to Rounds: method, URL, the scheme it signed with, Rounds' answer."""
    return [entry for entry in peer.state()["outgoing"]
            if entry["method"] == "POST" and entry["url"].startswith(instance.base_url)]


@pytest.mark.parametrize("first_knock", [RFC9421, CAVAGE])
def test_rounds_accepts_the_scheme_fedify_knocks_with_first(first_knock: str, peer: FedifyPeer, rounds: Instance):
    bo = person(rounds, "dr_bo", role="staff")
    bo_uri = f"{rounds.base_url}/users/dr_bo"
    peer("follow", **{"as": "alice", "target": bo_uri})
    eventually(lambda: bo.account_followers(bo.me()["id"]), "alice's Follow on Rounds")
    post = bo.status_post("Vaccination day", visibility="public")
    eventually(lambda: any(entry["object"] == post["uri"] for entry in peer.handled("Create")), "the post at Fedify")
    peer("like", **{"as": "alice", "object": post["uri"], "author": bo_uri})
    mentioning = peer("post", **{"as": "alice", "content": "<p>@dr_bo count me in</p>", "mentions": [bo_uri]})["id"]
    eventually(lambda: bo.status(post["id"])["favourites_count"] == 1, "the Like on Rounds")
    eventually(lambda: [note for note in bo.notifications() if note["type"] == "mention"
                        and note["status"]["uri"] == mentioning], "the mention on Rounds")
    peer("unfollow", **{"as": "alice", "target": bo_uri})
    eventually(lambda: not bo.account_followers(bo.me()["id"]), "the Undo on Rounds")

    sent = posts_to(peer, rounds)
    assert len(sent) == 4, sent  # Follow, Like, Create, Undo: each accepted at the first knock
    assert all(entry["scheme"] == ("rfc9421" if first_knock == RFC9421 else "cavage") for entry in sent), sent
    assert all(entry["status"] == 202 for entry in sent), sent


def test_fedify_verifies_rounds_rfc9421_and_after_a_refusal_its_cavage(peer: FedifyPeer, rounds: Instance):
    person(rounds, "dr_bo", role="staff")
    cy = person(rounds, "cy", role="staff")
    bo_uri, cy_uri = f"{rounds.base_url}/users/dr_bo", f"{rounds.base_url}/users/cy"

    # RFC 9421 first, which Fedify verifies.
    peer("follow", **{"as": "alice", "target": bo_uri})
    eventually(lambda: peer.following("alice", bo_uri) == "accepted", "dr_bo's Accept at Fedify")
    assert [(entry["scheme"], entry["status"]) for entry in peer.inbox_posts()] == [("rfc9421", 202)]

    # Told to refuse RFC 9421, the peer gets the same Accept signed with draft-cavage.
    peer("config", refuseRfc9421=True)
    # A second Fedify server on the same host would be the same host to Rounds, so start afresh
    # with what Rounds knows: the host already took RFC 9421, and a 401 makes Rounds knock again.
    peer("follow", **{"as": "bob", "target": cy_uri})
    eventually(lambda: peer.following("bob", cy_uri) == "accepted", "cy's Accept at Fedify, signed with cavage")
    knocks = [(entry["scheme"], entry["status"]) for entry in peer.inbox_posts()[1:]]
    assert knocks == [("rfc9421", 401), ("cavage", 202)], knocks

    # From then on Rounds signs for this host with cavage only, and Fedify verifies each.
    post = cy.status_post("Pharmacy closes early today", visibility="public")
    eventually(lambda: any(entry["object"] == post["uri"] for entry in peer.handled("Create")), "the post at Fedify")
    later = [(entry["scheme"], entry["status"]) for entry in peer.inbox_posts()[3:]]
    assert later and set(later) == {("cavage", 202)}, later

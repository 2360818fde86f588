"""Authorized fetch: a followers-only post on Rounds is served to the Fedify actor only while it follows.

The peer GETs the post's id signed with alice's key (Fedify's `signRequest`, either scheme);
Rounds serves it while alice follows its author, and answers 404 before and after, as it does
to an unsigned request.
"""

from __future__ import annotations

import httpx
import pytest

from tests.interop.peer import CAVAGE, RFC9421, FedifyPeer, assert_every_request_verified
from tests.support.apps import eventually, person
from tests.support.processes import Instance

pytestmark = pytest.mark.e2e


def test_followers_only_post_is_fetched_only_while_following(peer: FedifyPeer, rounds: Instance):
    cy = person(rounds, "cy")  # locked: approves alice
    cy_uri = f"{rounds.base_url}/users/cy"
    post = cy.status_post("my blood results came back fine", visibility="private")

    def fetch(spec: str = RFC9421) -> dict:
        return peer("fetch", **{"as": "alice", "url": post["uri"], "spec": spec})

    assert fetch()["status"] == 404
    assert fetch(CAVAGE)["status"] == 404
    assert httpx.get(post["uri"], headers={"Accept": "application/activity+json"}).status_code == 404

    peer("follow", **{"as": "alice", "target": cy_uri})
    cy.follow_request_authorize(eventually(lambda: cy.follow_requests(), "alice's request on Rounds")[0]["id"])
    eventually(lambda: peer.following("alice", cy_uri) == "accepted", "cy's Accept at Fedify")
    for spec in (RFC9421, CAVAGE):
        served = fetch(spec)
        assert served["status"] == 200, served
        assert served["body"]["id"] == post["uri"] and "blood results" in served["body"]["content"]
        assert served["body"]["attributedTo"] == cy_uri
    # As on Mastodon, the follower's server is what is authorized: bob, on it, is served too.
    assert peer("fetch", **{"as": "bob", "url": post["uri"]})["status"] == 200
    assert httpx.get(post["uri"], headers={"Accept": "application/activity+json"}).status_code == 404

    peer("unfollow", **{"as": "alice", "target": cy_uri})
    eventually(lambda: not cy.account_followers(cy.me()["id"]), "alice's Undo on Rounds")
    assert fetch()["status"] == 404
    assert fetch(CAVAGE)["status"] == 404
    assert_every_request_verified(peer, rounds)


def test_fedify_verifies_rounds_signed_fetches_and_serves_its_followers_only_note_once_followed(
        peer: FedifyPeer, rounds: Instance):
    """The other way: Fedify asks who signs Rounds' GETs (its instance actor) and allows a
    followers-only note only once someone on Rounds follows its author. Rounds itself keeps
    nothing from a search fetch that is not public (nobody here is shown to be addressed)."""
    ann = person(rounds, "ann")
    public = peer("post", **{"as": "alice", "content": "<p>Flu jabs this week</p>"})["id"]
    hidden = peer("post", **{"as": "alice", "content": "<p>for my followers</p>", "visibility": "followers"})["id"]
    found = ann.search_v2(public, resolve=True, result_type="statuses")["statuses"]
    assert [(status["uri"], status["account"]["acct"]) for status in found] == [(public, peer.handle("alice"))]
    assert "Flu jabs" in found[0]["content"]

    assert ann.search_v2(hidden, resolve=True, result_type="statuses")["statuses"] == []
    [refused] = peer.state()["authorizations"]
    # Fedify verified the signature (it names the key and its owner only then) and said no.
    assert refused == {"note": hidden, "keyId": f"{rounds.base_url}/actor#main-key",
                       "owner": f"{rounds.base_url}/actor", "allowed": False}

    alice = ann.search_v2(peer.handle("alice"), resolve=True, result_type="accounts")["accounts"][0]
    ann.account_follow(alice["id"])
    eventually(lambda: ann.account_relationships(alice["id"])[0]["following"], "Fedify's Accept on Rounds")
    assert ann.search_v2(hidden, resolve=True, result_type="statuses")["statuses"] == []  # Rounds' own rule
    allowed = peer.state()["authorizations"][1:]
    assert allowed == [{"note": hidden, "keyId": f"{rounds.base_url}/actor#main-key",
                        "owner": f"{rounds.base_url}/actor", "allowed": True}]

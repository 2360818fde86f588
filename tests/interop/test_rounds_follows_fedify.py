"""A Rounds person finds a Fedify actor, follows it, receives its posts and reacts to them.

Rounds resolves `alice@127.0.0.1:port` through its client API's search (WebFinger, then the
actor document Fedify serves with its extra contexts and keys), and every activity Rounds sends
back (Follow, Like, Announce, Undo) must pass Fedify's signature verification.
"""

from __future__ import annotations

import pytest

from tests.interop.peer import RFC9421, FedifyPeer, assert_every_request_verified
from tests.support.apps import eventually, person
from tests.support.processes import Instance

pytestmark = pytest.mark.e2e


def home(api) -> dict[str, dict]:
    return {status["uri"]: status for status in api.timeline_home(limit=40)}


def test_rounds_follows_fedify_receives_rich_posts_likes_boosts_and_unfollows(peer: FedifyPeer, rounds: Instance):
    ann = person(rounds, "ann")
    alice = peer.actor("alice")
    ann_uri = f"{rounds.base_url}/users/ann"

    found = ann.search_v2(peer.handle("alice"), resolve=True, result_type="accounts")["accounts"]
    assert [account["acct"] for account in found] == [peer.handle("alice")]
    assert found[0]["display_name"] == "Alice (Fedify)" and found[0]["url"] == alice
    ann.account_follow(found[0]["id"])
    eventually(lambda: ann.account_relationships(found[0]["id"])[0]["following"], "Fedify's Accept on Rounds")
    assert list(peer.followers("alice")) == [ann_uri]

    # A post with a content warning, a hashtag and a picture; a reply to it; a mention of ann.
    rich = peer("post", **{"as": "alice", "content": "<p>Night shift notes <a href=\"#\">#nursing</a></p>",
                           "summary": "long read", "hashtags": ["nursing"],
                           "attachments": [{"url": f"{peer.origin}/media/ward.png", "mediaType": "image/png",
                                            "name": "the ward at night"}]})["id"]
    reply = peer("post", **{"as": "alice", "content": "<p>and one more thing</p>", "inReplyTo": rich})["id"]
    mention = peer("post", **{"as": "alice", "content": f"<p>@ann@{rounds.domain} see you tomorrow</p>",
                              "mentions": [ann_uri]})["id"]
    statuses = eventually(lambda: (seen := home(ann)).keys() >= {rich, reply, mention} and seen,
                          "alice's three posts in ann's home")
    shown = statuses[rich]
    assert shown["account"]["acct"] == peer.handle("alice")
    assert "Night shift notes" in shown["content"]
    assert shown["spoiler_text"] == "long read" and shown["sensitive"] is True
    assert [tag["name"] for tag in shown["tags"]] == ["nursing"]
    assert [(media["remote_url"] or media["url"], media["description"]) for media in shown["media_attachments"]] \
        == [(f"{peer.origin}/media/ward.png", "the ward at night")]
    assert statuses[reply]["in_reply_to_id"] == shown["id"]
    assert [account["acct"] for account in statuses[mention]["mentions"]] == ["ann"]
    notified = eventually(lambda: [note for note in ann.notifications() if note["type"] == "mention"],
                          "the mention notification")
    assert notified[0]["status"]["uri"] == mention

    # Her like and boost reach Fedify, which verified their signatures.
    ann.status_favourite(shown["id"])
    ann.status_reblog(shown["id"])
    like = eventually(lambda: peer.handled("Like"), "the Like at Fedify")
    assert like[0]["actor"] == ann_uri and like[0]["json"]["object"] == rich
    boost = eventually(lambda: peer.handled("Announce"), "the Announce at Fedify")
    assert boost[0]["actor"] == ann_uri and boost[0]["json"]["object"] == rich

    # Her answer, which mentions alice, reaches Fedify as a reply to alice's post.
    answered = ann.status_post(f"@{peer.handle('alice')} thank you", in_reply_to_id=shown["id"],
                               visibility="public")
    created = eventually(lambda: [entry for entry in peer.handled("Create") if entry["object"] == answered["uri"]],
                         "ann's answer at Fedify")
    assert created[0]["json"]["object"]["inReplyTo"] == rich
    assert {"type": "Mention", "href": alice} in created[0]["json"]["object"]["tag"]

    # Edits and deletions from Fedify reach ann's copy.
    peer("update", **{"as": "alice", "id": reply, "content": "<p>and one more thing: bring coffee</p>"})
    eventually(lambda: "coffee" in home(ann).get(reply, {}).get("content", ""), "the edit on Rounds")
    peer("delete", **{"as": "alice", "id": mention})
    eventually(lambda: mention not in home(ann), "the deletion on Rounds")

    # Unfollowing sends an Undo that Fedify verifies and applies; a block reaches Fedify too.
    ann.account_unfollow(found[0]["id"])
    eventually(lambda: not peer.followers("alice"), "ann's Undo at Fedify")
    assert any(entry["object"] is not None for entry in peer.handled("Undo"))
    ann.account_block(found[0]["id"])
    blocks = eventually(lambda: peer.handled("Block"), "ann's Block at Fedify")
    assert (blocks[0]["actor"], blocks[0]["json"]["object"]) == (ann_uri, alice)

    assert_every_request_verified(peer, rounds)
    assert {entry["scheme"] for entry in peer.inbox_posts()} == {RFC9421}


def test_rounds_votes_in_a_fedify_poll_and_takes_shared_inbox_and_direct_deliveries_and_a_new_name(
        peer: FedifyPeer, rounds: Instance):
    ann = person(rounds, "ann")
    ann_uri = f"{rounds.base_url}/users/ann"
    alice = ann.search_v2(peer.handle("alice"), resolve=True, result_type="accounts")["accounts"][0]
    ann.account_follow(alice["id"])
    eventually(lambda: ann.account_relationships(alice["id"])[0]["following"], "Fedify's Accept on Rounds")

    # Fedify's Question, delivered to Rounds' shared inbox; ann's vote goes back as a named Note.
    peer("config", preferSharedInbox=True)
    question = peer("poll", **{"as": "alice", "content": "<p>Which day for the team meeting?</p>",
                               "options": ["Monday", "Friday"]})["id"]
    shown = eventually(lambda: [status for status in ann.timeline_home() if status["uri"] == question],
                       "the poll in ann's home")[0]
    assert [option["title"] for option in shown["poll"]["options"]] == ["Monday", "Friday"]
    assert shown["poll"]["multiple"] is False
    assert [entry["url"] for entry in peer.state()["outgoing"] if entry["method"] == "POST"
            and entry["url"].startswith(rounds.base_url)][-1] == f"{rounds.base_url}/inbox"
    ann.poll_vote(shown["poll"]["id"], [1])
    vote = eventually(lambda: [entry["json"]["object"] for entry in peer.handled("Create")
                               if entry["json"]["object"].get("inReplyTo") == question], "ann's vote at Fedify")
    assert vote[0]["name"] == "Friday" and vote[0]["attributedTo"] == ann_uri

    # A direct message from alice: a mention only ann sees, in her conversations.
    direct = peer("post", **{"as": "alice", "content": f"<p>@ann@{rounds.domain} your results are in</p>",
                             "visibility": "direct", "mentions": [ann_uri]})["id"]
    notified = eventually(lambda: [note["status"] for note in ann.notifications()
                                   if note["type"] == "mention" and note["status"]["uri"] == direct],
                          "the direct message on Rounds")
    assert notified[0]["visibility"] == "direct"
    conversations = eventually(lambda: ann.conversations(), "the conversation on Rounds")
    assert conversations[0]["last_status"]["uri"] == direct

    # alice renames herself: Fedify's Update of her actor reaches Rounds.
    peer("rename", **{"as": "alice", "name": "Alice, night nurse"})
    eventually(lambda: ann.account(alice["id"])["display_name"] == "Alice, night nurse", "the new name on Rounds")
    assert_every_request_verified(peer, rounds)

"""What Fedify's object model reads of Rounds' documents, and a Fedify vote in a Rounds poll.

`handled[...]["parsed"]` is what Fedify understood (its vocabulary classes), not the JSON that
was sent: a term Rounds' @context leaves undefined is missing there, as it would be for any
JSON-LD reader.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.interop.peer import FedifyPeer, assert_every_request_verified
from tests.support.apps import eventually, person
from tests.support.processes import Instance

pytestmark = pytest.mark.e2e


def png() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, "PNG")
    return picture.getvalue()


def test_fedify_reads_rounds_tags_pictures_warnings_polls_and_profile_and_votes(peer: FedifyPeer, rounds: Instance):
    bo = person(rounds, "dr_bo", role="staff")
    bo_uri = f"{rounds.base_url}/users/dr_bo"
    alice = peer.actor("alice")
    peer("follow", **{"as": "alice", "target": bo_uri})
    eventually(lambda: peer.following("alice", bo_uri) == "accepted", "dr_bo's Accept at Fedify")

    def parsed(uri: str) -> dict | None:
        found = [entry["parsed"] for entry in peer.handled("Create") if entry["object"] == uri]
        return found[0] if found else None

    media = bo.media_post(png(), mime_type="image/png", description="a red square")
    post = bo.status_post(f"@{peer.handle('alice')} the ECG #cardiology", media_ids=[media["id"]],
                          spoiler_text="medical images", visibility="public")
    read = eventually(lambda: parsed(post["uri"]), "the post at Fedify")
    assert (read["type"], read["summary"], read["sensitive"]) == ("Note", "medical images", True)
    assert {"type": "Mention", "name": None, "href": alice} in read["tags"]
    assert {"type": "Hashtag", "name": "#cardiology", "href": f"{rounds.base_url}/tags/cardiology"} in read["tags"]
    assert read["attachments"] == [{"type": "Document", "mediaType": "image/png", "url": media["url"],
                                    "name": "a red square"}]

    poll = bo.status_post("Which day for the ECG course?", poll=bo.make_poll(["Monday", "Friday"], expires_in=3600),
                          visibility="public")
    question = eventually(lambda: parsed(poll["uri"]), "the poll at Fedify")
    assert (question["type"], question["options"], question["voters"]) == ("Question", ["Monday", "Friday"], 0)

    # alice votes as Mastodon does (a Note named after her choice, answering the Question).
    peer("post", **{"as": "alice", "name": "Friday", "inReplyTo": poll["uri"], "to": [bo_uri],
                    "visibility": "direct"})
    counted = eventually(lambda: (now := bo.poll(poll["poll"]["id"]))["votes_count"] == 1 and now,
                         "alice's vote on Rounds")
    assert [(option["title"], option["votes_count"]) for option in counted["options"]] == [("Monday", 0), ("Friday", 1)]

    bo.account_update_credentials(display_name="Dr Bo, cardiology")
    updated = eventually(lambda: [entry for entry in peer.handled("Update") if entry["object"] == bo_uri],
                         "the profile Update at Fedify")
    assert updated[0]["json"]["object"]["name"] == "Dr Bo, cardiology"
    assert_every_request_verified(peer, rounds)

"""Three real `rounds serve` processes (mayo, inova, radboud) driven only through the CLI and
the Mastodon client API, with the real Mastodon.py client, as people's apps drive them.

Everything between the instances is signed ActivityPub over loopback HTTP, handled by each
server's own workers; nothing here touches an instance's database.
"""

from __future__ import annotations

import time

import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonNotFoundError

from tests.support.apps import eventually, find, lookup, person
from tests.support.processes import Instance, running_instances

pytestmark = pytest.mark.e2e


@pytest.fixture
def three(new_database_url, tmp_path):
    with running_instances(["mayo", "inova", "radboud"], new_database_url, tmp_path,
                           ROUNDS_ALLOW_PRIVATE_ADDRESSES="true") as started:
        yield started






def post_local_only(instance: Instance, api: Mastodon, text: str) -> dict:
    """Rounds' `local` visibility, which Mastodon.py does not know: posted the way Elk or Phanpy would."""
    response = httpx.post(f"{instance.base_url}/api/v1/statuses", json={"status": text, "visibility": "local"},
                          headers={"Authorization": f"Bearer {api.access_token}"})
    assert response.status_code == 200, response.text
    return response.json()


def home_uris(api: Mastodon) -> set[str]:
    return {status["uri"] for status in api.timeline_home(limit=40)}


def test_three_hospitals_follow_post_react_and_unfollow_through_their_apps(three):
    mayo, inova, radboud = three
    ann = person(mayo, "ann")  # a patient on mayo
    bo = person(inova, "dr_bo", role="staff")  # staff: followed without approval
    cy = person(inova, "cy")  # a patient: locked, approves followers
    dee = person(radboud, "dee", role="staff")
    bo_handle, cy_handle = f"dr_bo@{inova.domain}", f"cy@{inova.domain}"
    ann_handle = f"ann@{mayo.domain}"

    # Follows: staff at once, the locked patient only after approval in her own app.
    assert ann.account_follow(find(ann, bo_handle)["id"])["requested"] in (True, False)
    assert ann.account_follow(find(ann, cy_handle)["id"])["requested"] is True
    eventually(lambda: ann.account_relationships(find(ann, bo_handle)["id"])[0]["following"],
               "dr_bo's Accept to reach mayo")
    requests = eventually(lambda: cy.follow_requests(), "ann's follow request to reach cy")
    assert [account["acct"] for account in requests] == [ann_handle]
    assert ann.account_relationships(find(ann, cy_handle)["id"])[0]["following"] is False
    cy.follow_request_authorize(requests[0]["id"])
    eventually(lambda: ann.account_relationships(find(ann, cy_handle)["id"])[0]["following"],
               "cy's approval to reach mayo")
    dee.account_follow(find(dee, ann_handle)["id"])  # radboud follows ann, and nobody on inova
    ann.follow_request_authorize(eventually(lambda: ann.follow_requests(), "dee's request to reach ann")[0]["id"])
    eventually(lambda: dee.account_relationships(find(dee, ann_handle)["id"])[0]["following"],
               "ann's Accept to reach radboud")

    # Posts at every visibility reach exactly the instances that may see them.
    posts = {visibility: bo.status_post(f"{visibility} note from dr_bo", visibility=visibility)
             for visibility in ("public", "unlisted", "private")}
    posts["local"] = post_local_only(inova, bo, "local note from dr_bo")
    from_cy = cy.status_post("only for my followers", visibility="private")
    for status in (posts["public"], posts["unlisted"], posts["private"], from_cy):
        eventually(lambda status=status: status["uri"] in home_uris(ann), f"{status['uri']} in ann's home")
    assert lookup(ann, from_cy["uri"])["visibility"] == "private"
    time.sleep(1)  # give a wrong delivery the chance to happen before checking it did not
    assert posts["local"]["uri"] not in home_uris(ann) and lookup(ann, posts["local"]["uri"]) is None
    for status in [*posts.values(), from_cy]:
        assert lookup(dee, status["uri"]) is None
    # The followers-only post is not served to radboud, which has no follower there, nor unsigned.
    assert dee.search_v2(from_cy["uri"], resolve=True)["statuses"] == []
    unsigned = httpx.get(from_cy["uri"], headers={"Accept": "application/activity+json"})
    assert unsigned.status_code == 404

    # A reply thread over all three: ann answers dr_bo, dee (following ann) answers ann.
    ann_copy = lookup(ann, posts["public"]["uri"])
    reply = ann.status_post(f"@{bo_handle} will the clinic be open on Saturday?", in_reply_to_id=ann_copy["id"],
                            visibility="public")  # a patient's default is followers-only
    eventually(lambda: lookup(bo, reply["uri"]), "ann's reply on inova")
    dee_copy = eventually(lambda: lookup(dee, reply["uri"]), "ann's reply on radboud")
    assert lookup(dee, posts["public"]["uri"]) is not None  # the post it answers came along
    answer = dee.status_post(f"@{ann_handle} yes, from nine", in_reply_to_id=dee_copy["id"], visibility="public")
    eventually(lambda: lookup(ann, answer["uri"]), "dee's answer on mayo")
    context = ann.status_context(lookup(ann, reply["uri"])["id"])
    assert [status["uri"] for status in context["ancestors"]] == [posts["public"]["uri"]]
    assert [status["uri"] for status in context["descendants"]] == [answer["uri"]]

    # Like and boost reach the author; the boost reaches ann's followers on radboud.
    ann.status_favourite(ann_copy["id"])
    ann.status_reblog(ann_copy["id"])
    eventually(lambda: bo.status(posts["public"]["id"])["favourites_count"] == 1, "the like on inova")
    eventually(lambda: bo.status(posts["public"]["id"])["reblogs_count"] == 1, "the boost on inova")
    eventually(lambda: any(status["reblog"] and status["reblog"]["uri"] == posts["public"]["uri"]
                           for status in dee.timeline_home()), "the boost in dee's home on radboud")

    # An edit and a deletion propagate; the deleted post is gone from the other two. Radboud
    # follows nobody on inova: its copy came with ann's boost, and mayo forwards the Delete.
    bo.status_update(posts["public"]["id"], "public note from dr_bo (clinic open Saturday)")
    eventually(lambda: "Saturday" in lookup(ann, posts["public"]["uri"])["content"], "the edit on mayo")
    bo.status_delete(posts["public"]["id"])
    eventually(lambda: lookup(ann, posts["public"]["uri"]) is None, "the deletion on mayo")
    eventually(lambda: lookup(dee, posts["public"]["uri"]) is None, "the deletion on radboud")
    with pytest.raises(MastodonNotFoundError):
        ann.status(ann_copy["id"])

    # Unfollowing stops delivery.
    ann.account_unfollow(find(ann, bo_handle)["id"])
    eventually(lambda: not bo.account_relationships(find(bo, ann_handle)["id"])[0]["followed_by"],
               "the unfollow on inova")
    later = bo.status_post("after the unfollow", visibility="public")
    time.sleep(2)
    assert lookup(ann, later["uri"]) is None

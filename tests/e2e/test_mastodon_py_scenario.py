"""Mastodon.py, as a patient's app, against two real `rounds serve` processes: signs in through
the pages, posts with a picture, finds and follows a doctor on the other instance, reads and
pages her home timeline, replies, favourites, boosts, bookmarks, gets notifications and reports.
"""

from __future__ import annotations

import io
import time

import pytest
from mastodon import Mastodon
from PIL import Image

from tests.e2e.test_mastodon_py_login import approve_in_browser
from tests.support.apps import eventually
from tests.support.processes import running_instances

pytestmark = pytest.mark.e2e
SCOPES = ["read", "write", "follow", "push"]
PASSWORD = "a long password for ann"


@pytest.fixture
def two(new_database_url, tmp_path):
    with running_instances(["mayo", "inova"], new_database_url, tmp_path,
                           ROUNDS_ALLOW_PRIVATE_ADDRESSES="true") as started:
        yield started



def logged_in(instance, username: str, password: str) -> Mastodon:
    client_id, client_secret = Mastodon.create_app("Rounds patient app", scopes=SCOPES,
                                                   redirect_uris="urn:ietf:wg:oauth:2.0:oob",
                                                   api_base_url=instance.base_url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=instance.base_url)
    code = approve_in_browser(api.auth_request_url(scopes=SCOPES, allow_http=True), username, password)
    api.log_in(code=code, scopes=SCOPES, allow_http=True)
    return api


def photo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (30, 120, 200)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_a_patients_app_does_everything_across_two_real_servers(two):
    mayo, inova = two
    assert mayo.cli("accounts", "create", "ann", "--email", "ann@mayo.test", "--password-stdin",
                    stdin=PASSWORD + "\n").returncode == 0
    assert inova.cli("accounts", "create", "dr_bo", "--email", "bo@inova.test", "--role", "staff").returncode == 0
    bo = Mastodon(access_token=inova.cli("accounts", "token", "dr_bo").stdout.strip(), api_base_url=inova.base_url)
    ann = logged_in(mayo, "ann", PASSWORD)
    assert ann.account_verify_credentials()["source"]["privacy"] == "private"  # a patient's default
    # The app reads the rate-limit headers (its default `wait` slows down before a 429).
    assert ann.ratelimit_limit == 300 and 0 < ann.ratelimit_remaining < 300
    assert ann.ratelimit_reset > time.time()

    # A post with a picture, described for screen readers.
    media = ann.media_post(photo(), mime_type="image/jpeg", description="Our new garden at the ward")
    assert media["url"] and media["type"] == "image"
    own = ann.status_post("The garden is open", media_ids=[media["id"]], visibility="public")
    assert [attachment["description"] for attachment in own["media_attachments"]] == ["Our new garden at the ward"]

    # Find the doctor on inova and follow him; his posts reach her home timeline.
    handle = f"dr_bo@{inova.domain}"
    [doctor] = ann.search_v2(handle, resolve=True, result_type="accounts")["accounts"]
    assert doctor["acct"] == handle
    ann.account_follow(doctor["id"])
    eventually(lambda: ann.account_relationships(doctor["id"])[0]["following"], "the Accept")
    posted = [bo.status_post(f"Clinic note {number}", visibility="public") for number in range(3)]
    uris = {status["uri"] for status in posted}
    eventually(lambda: uris <= {status["uri"] for status in ann.timeline_home(limit=40)}, "his posts at home")
    first_page = ann.timeline_home(limit=2)
    second_page = ann.fetch_next(first_page)
    assert len(first_page) == 2 and second_page and first_page[-1]["id"] > second_page[0]["id"]

    # Reply, favourite, boost and bookmark one of his posts; his server sees the reactions.
    copy = next(status for status in ann.timeline_home(limit=40) if status["uri"] == posted[0]["uri"])
    reply = ann.status_post(f"@{handle} thank you", in_reply_to_id=copy["id"], visibility="public")
    assert reply["in_reply_to_id"] == copy["id"]
    ann.status_favourite(copy["id"])
    ann.status_reblog(copy["id"])
    ann.status_bookmark(copy["id"])
    assert [status["id"] for status in ann.bookmarks()] == [copy["id"]]
    assert ann.status(copy["id"])["bookmarked"] is True
    eventually(lambda: bo.status(posted[0]["id"])["favourites_count"] == 1, "the like on inova")

    # His answers come back as notifications: a mention and a favourite.
    bo_copy = eventually(lambda: bo.search_v2(reply["uri"], resolve=False)["statuses"], "the reply on inova")[0]
    bo.status_favourite(bo_copy["id"])
    bo.status_post(f"@ann@{mayo.domain} you are welcome", in_reply_to_id=bo_copy["id"], visibility="public")
    kinds = eventually(lambda: {note["type"] for note in ann.notifications()} >= {"favourite", "mention"} and
                       {note["type"] for note in ann.notifications()}, "the notifications")
    assert "favourite" in kinds and "mention" in kinds
    mentions = ann.notifications(types=["mention"])
    assert [note["type"] for note in mentions] == ["mention"] and mentions[0]["account"]["acct"] == handle

    # She asks to hear of each of his new posts and to see none of his boosts; a new post of
    # his becomes a `status` notification.
    settings = ann.account_follow(doctor["id"], reblogs=False, notify=True)
    assert (settings["showing_reblogs"], settings["notifying"]) == (False, True)
    news = bo.status_post("Flu vaccines are in", visibility="public")
    eventually(lambda: any(note["type"] == "status" and note["status"]["uri"] == news["uri"]
                           for note in ann.notifications(types=["status"])), "the status notification")

    # She mutes the thread of her reply: his next answer in it tells her nothing.
    assert ann.status_mute(reply["id"])["muted"] is True
    more = bo.status_post(f"@ann@{mayo.domain} one more thing", in_reply_to_id=bo_copy["id"], visibility="public")
    arrived = eventually(lambda: ann.search_v2(more["uri"], resolve=False)["statuses"], "his answer on mayo")
    assert arrived[0]["muted"] is True
    assert len(ann.notifications(types=["mention"])) == 1

    # Profile fields, as the app's profile editor sends them.
    profile = ann.account_update_credentials(fields=[("Pronouns", "she/her"), ("Ward", "Oncology")])
    assert [(field["name"], field["value"]) for field in profile["fields"]] == [
        ("Pronouns", "she/her"), ("Ward", "Oncology")]

    # Delete & redraft keeps the picture.
    deleted = ann.status_delete(own["id"])
    redrafted = ann.status_post(deleted["text"] + " (with hours)", visibility="public",
                                media_ids=[media["id"] for media in deleted["media_attachments"]])
    assert [m["url"] for m in redrafted["media_attachments"]] == [m["url"] for m in own["media_attachments"]]

    # A report about a post, forwarded to his server.
    report = ann.report(doctor["id"], status_ids=[copy["id"]], comment="testing reports", forward=True,
                        category="other")
    assert report["forwarded"] is True and report["target_account"]["acct"] == handle

"""masto.js (the client of Elk and Phanpy) against two real `rounds serve` processes.

The app registers and exchanges its code through masto.js; the sign-in and consent pages in
between are filled in as a browser would; then a patient on mayo uses the app to post, find
and follow a doctor on inova, read and page her home timeline, reply, favourite, boost,
bookmark, post a picture, get a notification and report.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from mastodon import Mastodon
from PIL import Image

from tests.support.apps import eventually
from tests.support.browser import APPROVE_BUTTON, LOGIN_BUTTON, form_with
from tests.support.javascript import Masto, MastoError, ensure_installed
from tests.support.processes import running_instances

pytestmark = pytest.mark.e2e
PASSWORD = "a long password for ann"
REDIRECT = "https://app.example/callback"  # a web app's page; never fetched, only redirected to


@pytest.fixture
def two(new_database_url, tmp_path):
    ensure_installed()
    with running_instances(["mayo", "inova"], new_database_url, tmp_path,
                           ROUNDS_ALLOW_PRIVATE_ADDRESSES="true") as started:
        yield started



def sign_in_and_approve(base_url: str, client_id: str, username: str, password: str, challenge: str) -> str:
    """What the browser does between the app's two masto.js calls; returns the code sent to the app."""
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
                       "scope": "read write follow", "state": "s-42", "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    with httpx.Client() as browser:
        authorize_url = f"{base_url}/oauth/authorize?{query}"
        page = browser.get(authorize_url)
        form = form_with(page.text, "username", LOGIN_BUTTON)
        signed_in = browser.post(urljoin(authorize_url, form.action),
                                 data=form.fill(LOGIN_BUTTON, username=username, password=password))
        consent = browser.get(urljoin(authorize_url, signed_in.headers["location"]))
        form = form_with(consent.text, button=APPROVE_BUTTON)
        back_to_app = browser.post(urljoin(authorize_url, form.action), data=form.fill(APPROVE_BUTTON))
    assert back_to_app.status_code in (302, 303), back_to_app.text
    location = urlsplit(back_to_app.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    answer = parse_qs(location.query)
    assert answer["state"] == ["s-42"]
    return answer["code"][0]


def test_masto_js_signs_in_posts_follows_across_instances_and_pages_the_home_timeline(two, tmp_path):
    mayo, inova = two
    created = mayo.cli("accounts", "create", "ann", "--email", "ann@mayo.test", "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert inova.cli("accounts", "create", "dr_bo", "--email", "bo@inova.test", "--role", "staff").returncode == 0
    bo = Mastodon(access_token=inova.cli("accounts", "token", "dr_bo").stdout.strip(), api_base_url=inova.base_url)

    # Sign in as Elk or Phanpy would: register, send the person to the pages, exchange the code.
    anonymous = Masto(mayo.base_url)
    app = anonymous("v1.apps.create", {"clientName": "Rounds web test", "redirectUris": REDIRECT,
                                       "scopes": "read write follow"})
    verifier = secrets.token_urlsafe(48)  # PKCE, as a web app must
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = sign_in_and_approve(mayo.base_url, app["clientId"], "ann", PASSWORD, challenge)
    exchange = {"grantType": "authorization_code", "clientId": app["clientId"], "clientSecret": app["clientSecret"],
                "redirectUri": REDIRECT, "code": code, "scope": "read write follow"}
    with pytest.raises(MastoError) as wrong_verifier:
        anonymous("oauth.token.create", exchange | {"codeVerifier": "not-the-verifier-" + "x" * 40})
    assert wrong_verifier.value.status == 400
    code = sign_in_and_approve(mayo.base_url, app["clientId"], "ann", PASSWORD, challenge)  # a fresh one
    token = anonymous("oauth.token.create", exchange | {"code": code, "codeVerifier": verifier})
    assert token["tokenType"] == "Bearer" and set(token["scope"].split()) == {"read", "write", "follow"}
    ann = Masto(mayo.base_url, token["accessToken"])
    assert ann("v1.accounts.verifyCredentials")["username"] == "ann"
    with pytest.raises(MastoError) as refused:
        Masto(mayo.base_url, "not-a-token")("v1.accounts.verifyCredentials")
    assert refused.value.status == 401

    # Find the doctor on the other instance and follow him.
    handle = f"dr_bo@{inova.domain}"
    found = ann("v2.search.list", {"q": handle, "resolve": True, "type": "accounts"})["accounts"]
    assert [account["acct"] for account in found] == [handle]
    bo_id = found[0]["id"]
    ann(f"v1.accounts.$select:{bo_id}.follow")
    eventually(lambda: ann("v1.accounts.relationships.fetch", {"id": [bo_id]})[0]["following"],
               "dr_bo's Accept to reach mayo")

    # His posts arrive in her home timeline, which she pages one status at a time.
    posted = [bo.status_post(f"Ward round note {number}", visibility="public") for number in range(3)]
    own = ann("v1.statuses.create", {"status": "Hello from the app", "visibility": "private"})
    wanted = {status["uri"] for status in posted} | {own["uri"]}
    eventually(lambda: wanted <= {status["uri"] for status in ann("v1.timelines.home.list", {"limit": 40})},
               "dr_bo's posts in ann's home timeline")
    pages = ann("v1.timelines.home.list", {"limit": 1}, pages=10)
    # Four statuses, then (as on Mastodon) one empty page, which has no `next` link: masto.js stops.
    assert [len(page) for page in pages] == [1, 1, 1, 1, 0]
    ids = [page[0]["id"] for page in pages[:4]]
    assert ids == sorted(ids, key=int, reverse=True) and len(set(ids)) == 4

    # Reply, favourite and boost through the app; the author's instance sees all three.
    copy = next(status for status in ann("v1.timelines.home.list") if status["uri"] == posted[0]["uri"])
    reply = ann("v1.statuses.create", {"status": f"@{handle} thank you", "inReplyToId": copy["id"],
                                       "visibility": "public"})
    assert reply["inReplyToId"] == copy["id"] and reply["mentions"][0]["acct"] == handle
    assert ann(f"v1.statuses.$select:{copy['id']}.favourite")["favourited"] is True
    assert ann(f"v1.statuses.$select:{copy['id']}.reblog")["reblog"]["id"] == copy["id"]
    eventually(lambda: bo.status(posted[0]["id"])["favourites_count"] == 1, "the like on inova")
    eventually(lambda: bo.status(posted[0]["id"])["reblogs_count"] == 1, "the boost on inova")
    eventually(lambda: bo.status_context(posted[0]["id"])["descendants"], "the reply on inova")

    # A picture, described, in a public post; dr_bo's favourite of it comes back as a notification.
    picture = tmp_path / "garden.png"
    Image.new("RGB", (640, 480), (40, 160, 90)).save(picture)
    media = ann("v2.media.create", {"file": {"$file": str(picture), "type": "image/png"},
                                    "description": "The new garden"})
    assert media["url"] and media["description"] == "The new garden"
    shared = ann("v1.statuses.create", {"status": "Come and see", "mediaIds": [media["id"]], "visibility": "public"})
    assert [item["id"] for item in shared["mediaAttachments"]] == [media["id"]]
    copy_on_inova = eventually(lambda: bo.search_v2(shared["uri"], resolve=True)["statuses"], "ann's post on inova")
    bo.status_favourite(copy_on_inova[0]["id"])
    notes = eventually(lambda: [note for note in ann("v1.notifications.list", {"types": ["favourite"]})
                                if note["status"]["id"] == shared["id"]], "the favourite notification")
    assert notes[0]["account"]["acct"] == handle

    # A bookmark, and a report forwarded to inova.
    assert ann(f"v1.statuses.$select:{copy['id']}.bookmark")["bookmarked"] is True
    assert [status["id"] for status in ann("v1.bookmarks.list")] == [copy["id"]]
    report = ann("v1.reports.create", {"accountId": bo_id, "statusIds": [copy["id"]], "comment": "test report",
                                       "forward": True})
    assert report["forwarded"] is True and report["targetAccount"]["id"] == bo_id

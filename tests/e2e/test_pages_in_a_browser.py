"""Rounds' pages in a real browser (headless Chromium) against a real `rounds serve`.

A person signs in to an app through the sign-in and consent pages by typing and clicking, as
they would; the code the last page shows gives the app a working token. The public pages
render with a title, a language and no script errors or failed requests.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.javascript import browser
from tests.support.processes import running_instances

pytestmark = pytest.mark.e2e
PASSWORD = "a long password for ann"
OOB = "urn:ietf:wg:oauth:2.0:oob"


@pytest.fixture
def mayo(new_database_url, tmp_path):
    with running_instances(["mayo"], new_database_url, tmp_path) as (instance,):
        created = instance.cli("accounts", "create", "ann", "--email", "ann@mayo.test", "--password-stdin",
                               stdin=PASSWORD + "\n")
        assert created.returncode == 0, created.stderr
        yield instance


def test_a_person_signs_in_to_an_app_by_typing_and_clicking_in_chromium(mayo, tmp_path: Path):
    app = httpx.post(f"{mayo.base_url}/api/v1/apps", data={
        "client_name": "Rounds browser test", "redirect_uris": OOB, "scopes": "read write"}).json()
    query = urlencode({"response_type": "code", "client_id": app["client_id"], "redirect_uri": OOB,
                       "scope": "read write"})
    seen = browser("sign-in", f"{mayo.base_url}/oauth/authorize?{query}", "ann", PASSWORD, str(tmp_path))
    assert seen["problems"] == []
    assert seen["login"]["title"].startswith("Sign in") and seen["login"]["lang"]
    assert seen["consent"]["headings"] and "Rounds browser test" in seen["consent"]["title"] + " ".join(
        seen["consent"]["headings"])
    for shot in ("sign-in.png", "consent.png", "code.png"):
        assert (tmp_path / shot).stat().st_size > 1000
    token = httpx.post(f"{mayo.base_url}/oauth/token", data={
        "grant_type": "authorization_code", "code": seen["code"], "client_id": app["client_id"],
        "client_secret": app["client_secret"], "redirect_uri": OOB}).json()
    assert set(token["scope"].split()) == {"read", "write"}
    me = httpx.get(f"{mayo.base_url}/api/v1/accounts/verify_credentials",
                   headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "ann"


@pytest.mark.parametrize("path", ["/", "/@ann", "/users/ann", "/auth/sign_up"])
def test_public_pages_render_without_script_errors_or_failed_requests(mayo, tmp_path: Path, path: str):
    seen = browser("visit", f"{mayo.base_url}{path}", str(tmp_path / "page.png"))
    assert seen["status"] == 200 and seen["problems"] == []
    assert seen["title"] and seen["lang"] and seen["headings"]
    assert (tmp_path / "page.png").stat().st_size > 1000

"""The real Mastodon.py client against a real `rounds serve`: register, log in through the
sign-in and consent pages as a person would, use the token, revoke it."""

from urllib.parse import urljoin

import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError

from tests.support.browser import APPROVE_BUTTON, LOGIN_BUTTON, form_with
from tests.support.processes import running_instances

pytestmark = pytest.mark.e2e

SCOPES = ["read", "write", "follow", "push"]  # Mastodon.py's default; `push` must be granted
PASSWORD = "a long password for ann"


@pytest.fixture
def mayo(new_database_url, tmp_path):
    with running_instances(["mayo"], new_database_url, tmp_path) as (instance,):
        created = instance.cli("accounts", "create", "ann", "--email", "ann@mayo.test", "--password-stdin",
                               stdin=PASSWORD + "\n")
        assert created.returncode == 0, created.stderr
        yield instance


def approve_in_browser(authorize_url: str, username: str, password: str) -> str:
    """Open the URL Mastodon.py made, sign in, approve; return the code the page shows."""
    with httpx.Client() as browser:
        login_page = browser.get(authorize_url)
        assert login_page.status_code == 200, login_page.text
        form = form_with(login_page.text, "username", LOGIN_BUTTON)
        signed_in = browser.post(urljoin(authorize_url, form.action),
                                 data=form.fill(LOGIN_BUTTON, username=username, password=password))
        assert signed_in.status_code == 303, signed_in.text
        consent_page = browser.get(urljoin(authorize_url, signed_in.headers["location"]))
        assert "<code>push</code>" in consent_page.text
        form = form_with(consent_page.text, button=APPROVE_BUTTON)
        code_page = browser.post(urljoin(authorize_url, form.action), data=form.fill(APPROVE_BUTTON))
        assert code_page.status_code == 200, code_page.text
        return code_page.text.split('<code id="authorization_code">')[1].split("</code>")[0]


def test_mastodon_py_logs_in_through_the_pages_and_verifies_credentials(mayo):
    client_id, client_secret = Mastodon.create_app(
        "Rounds acceptance", scopes=SCOPES, redirect_uris="urn:ietf:wg:oauth:2.0:oob", api_base_url=mayo.base_url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=mayo.base_url)
    authorize_url = api.auth_request_url(scopes=SCOPES, allow_http=True)
    assert authorize_url.startswith(f"{mayo.base_url}/oauth/authorize?")

    code = approve_in_browser(authorize_url, "ann", PASSWORD)
    api.log_in(code=code, scopes=SCOPES, allow_http=True)  # raises unless every scope was granted

    me = api.account_verify_credentials()
    assert me["username"] == "ann" and me["acct"] == "ann"
    assert api.app_verify_credentials()["name"] == "Rounds acceptance"

    api.revoke_access_token(allow_http=True)
    with pytest.raises(MastodonAPIError):
        api.app_verify_credentials()

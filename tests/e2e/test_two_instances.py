"""Two real `rounds serve` processes side by side on loopback, each with its own database."""

import httpx
import pytest

from tests.support.processes import running_instances

pytestmark = pytest.mark.e2e


@pytest.fixture
def instances(new_database_url, tmp_path):
    with running_instances(["mayo", "inova"], new_database_url, tmp_path) as started:
        yield started


def test_each_instance_answers_discovery_with_its_own_urls(instances):
    mayo, inova = instances
    mayo.cli("accounts", "create", "ann", "--email", "ann@mayo.test")
    inova.cli("accounts", "create", "dr_bo", "--email", "bo@inova.test", "--role", "staff")
    for instance, username in ((mayo, "ann"), (inova, "dr_bo")):
        # Resolve the handle the way a remote server would, starting from the other instance's view.
        handle = f"acct:{username}@{instance.domain}"
        jrd = httpx.get(f"{instance.base_url}/.well-known/webfinger", params={"resource": handle}).json()
        actor_url = next(link["href"] for link in jrd["links"] if link["rel"] == "self")
        assert actor_url == f"{instance.base_url}/users/{username}"
        actor = httpx.get(actor_url, headers={"Accept": "application/activity+json"}).json()
        assert actor["id"] == actor_url
        assert actor["inbox"] == f"{actor_url}/inbox"
        assert actor["endpoints"]["sharedInbox"] == f"{instance.base_url}/inbox"
        assert actor["publicKey"]["id"] == f"{actor_url}#main-key"
        links = httpx.get(f"{instance.base_url}/.well-known/nodeinfo").json()["links"]
        nodeinfo = httpx.get(links[-1]["href"]).json()
        assert links[-1]["href"] == f"{instance.base_url}/nodeinfo/2.1"
        assert nodeinfo["metadata"]["nodeName"] == instance.name
        assert nodeinfo["usage"]["users"]["total"] == 1
    # Neither instance claims the other's accounts.
    foreign = httpx.get(f"{mayo.base_url}/.well-known/webfinger",
                        params={"resource": f"acct:dr_bo@{inova.domain}"})
    assert foreign.status_code == 404
    assert httpx.get(f"{inova.base_url}/users/ann",
                     headers={"Accept": "application/activity+json"}).status_code == 404

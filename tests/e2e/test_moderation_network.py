"""Moderation across three real instances on three loopback hosts, driven by the admins' and
people's own tools: Mastodon.py (its admin API calls included) and the `rounds` CLI.

Mayo (127.0.0.1) and Inova (127.0.0.2) are members of the Hospital Network; Radboud
(127.0.0.3) is not. Every exchange is signed ActivityPub over loopback HTTP handled by each
server's own workers; nothing here touches a database.
"""

from __future__ import annotations

import contextlib
import json
import time

import httpx
import pytest
from mastodon.errors import MastodonAPIError

from tests.support.apps import eventually, find, lookup, person
from tests.support.processes import Instance, free_port

pytestmark = pytest.mark.e2e
ADMIN_SCOPES = "read write follow admin:read admin:write"


def _network_file(path, members):
    lines = ['name = "Hospital Network"']
    for title, domain in members:
        lines += ["[[members]]", f'name = "{title}"', f'domain = "{domain}"']
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def three_hospitals(new_database_url, tmp_path, *, mayo_mode: str = "open"):
    """Mayo and Inova (members) and Radboud (not), each on its own loopback address."""
    hosts = {"mayo": "127.0.0.1", "inova": "127.0.0.2", "radboud": "127.0.0.3"}
    ports = {name: free_port(host) for name, host in hosts.items()}
    domains = {name: f"{hosts[name]}:{ports[name]}" for name in hosts}
    network = _network_file(tmp_path / "network.toml",
                            [("Mayo Clinic", domains["mayo"]), ("Inova", domains["inova"])])
    started = []
    try:
        for name in hosts:
            folder = tmp_path / name
            folder.mkdir()
            extra = {"ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true"}
            if name != "radboud":
                extra["ROUNDS_NETWORK_FILE"] = str(network)
            if name == "mayo":
                extra["ROUNDS_FEDERATION_MODE"] = mayo_mode
            instance = Instance(name=name, database_url=new_database_url(empty=True), directory=folder,
                                host=hosts[name], port=ports[name], extra=extra)
            instance.start()
            started.append(instance)
        yield started
    finally:
        for instance in started:
            instance.stop()


@pytest.fixture
def hospitals(new_database_url, tmp_path):
    with three_hospitals(new_database_url, tmp_path) as started:
        yield started


def public_uris(api) -> set[str]:
    return {status["uri"] for status in api.timeline_public(limit=40)}


def home_uris(api) -> set[str]:
    return {status["uri"] for status in api.timeline_home(limit=40)}


def audit_actions(instance: Instance) -> list[str]:
    listed = instance.cli("audit", "--json", "--limit", "200")
    assert listed.returncode == 0, listed.stderr
    return [entry["action"] for entry in reversed(json.loads(listed.stdout))]


def test_limit_report_suspend_and_network_only_across_three_hospitals(hospitals):
    mayo, inova, radboud = hospitals
    owner = person(mayo, "owner", role="admin", scopes=ADMIN_SCOPES)
    ann = person(mayo, "ann", role="staff")  # staff: public by default, follows without approval
    reader = person(mayo, "reader", role="staff")  # follows nobody: sees only the public timelines
    bo = person(inova, "dr_bo", role="staff")
    dee = person(radboud, "dee", role="staff")
    radboud_admin = person(radboud, "rad_admin", role="admin", scopes=ADMIN_SCOPES)
    dee_handle, bo_handle, ann_handle = f"dee@{radboud.domain}", f"dr_bo@{inova.domain}", f"ann@{mayo.domain}"

    ann.account_follow(find(ann, dee_handle)["id"])
    ann.account_follow(find(ann, bo_handle)["id"])
    bo.account_follow(find(bo, ann_handle)["id"])
    dee.account_follow(find(dee, ann_handle)["id"])
    for api, handle in ((ann, dee_handle), (ann, bo_handle), (bo, ann_handle), (dee, ann_handle)):
        eventually(lambda api=api, handle=handle: api.account_relationships(find(api, handle)["id"])[0]["following"],
                   f"the follow of {handle}")

    # A network-only post from mayo reaches its follower on inova, never its follower on radboud.
    network_post = mayo_post = httpx.post(
        f"{mayo.base_url}/api/v1/statuses", json={"status": "Handover at nine", "visibility": "network"},
        headers={"Authorization": f"Bearer {ann.access_token}"}).json()
    assert mayo_post["visibility"] == "network"
    eventually(lambda: network_post["uri"] in home_uris(bo), "the network-only post on inova")
    assert dee.search_v2(network_post["uri"], resolve=True)["statuses"] == []
    time.sleep(1)
    assert network_post["uri"] not in home_uris(dee)

    # Limit radboud: its posts still reach ann, who follows dee, but leave mayo's public timelines.
    before = dee.status_post("Buy supplements now", visibility="public")
    eventually(lambda: before["uri"] in home_uris(ann), "dee's first post on mayo")
    assert before["uri"] in public_uris(reader)
    block = owner.admin_create_domain_block(radboud.host, severity="silence", public_comment="spam",
                                            private_comment="ticket 42")
    assert block["domain"] == radboud.host and block["severity"] == "silence"
    limited = dee.status_post("Buy more supplements", visibility="public")
    eventually(lambda: limited["uri"] in home_uris(ann), "dee's limited post in ann's home")
    assert limited["uri"] not in public_uris(reader)
    assert before["uri"] not in public_uris(reader)
    from_inova = bo.status_post("Flu clinic open", visibility="public")
    eventually(lambda: from_inova["uri"] in public_uris(reader), "inova's post in mayo's public timeline")
    listed = httpx.get(f"{mayo.base_url}/api/v1/instance/domain_blocks").json()
    assert [(entry["domain"], entry["severity"], entry["comment"]) for entry in listed] == [
        (radboud.host, "silence", "spam")]
    assert "ticket 42" not in str(listed)

    # Ann reports dee's post and forwards it: radboud gets it from mayo's instance actor, not from ann.
    copy = lookup(ann, limited["uri"])
    report = ann.report(find(ann, dee_handle)["id"], status_ids=[copy["id"]], comment="selling pills",
                        forward=True, category="spam")
    assert report["forwarded"] is True
    received = eventually(lambda: radboud_admin.admin_reports(), "the forwarded report on radboud")
    assert len(received) == 1
    reporter = received[0]["account"]
    assert reporter["username"] != "ann" and reporter["domain"] == mayo.domain
    assert received[0]["comment"] == "selling pills"
    assert [status["uri"] for status in received[0]["statuses"]] == [limited["uri"]]
    assert "ann" not in {reporter["username"], reporter["account"]["username"]}

    # Suspend radboud: follows severed both ways, its content gone, its new activities refused.
    owner.admin_update_domain_block(block["id"], severity="suspend")
    eventually(lambda: lookup(ann, limited["uri"]) is None, "radboud's posts purged from mayo")
    assert lookup(ann, before["uri"]) is None
    assert ann.account_relationships(find(ann, bo_handle)["id"])[0]["following"]
    following = {account["acct"] for account in ann.account_following(ann.me()["id"])}
    assert dee_handle not in following and bo_handle in following
    assert dee_handle not in {account["acct"] for account in ann.account_followers(ann.me()["id"])}
    after = dee.status_post("Anyone there?", visibility="public")
    refused = httpx.post(f"{mayo.base_url}/inbox", content=b"{}", headers={"Content-Type": "application/activity+json"})
    assert refused.status_code in (401, 403)
    time.sleep(2)
    assert lookup(ann, after["uri"]) is None
    assert ann.search_v2(dee_handle, resolve=True)["accounts"] == []

    # Bad admin input changes nothing; a person without the role is refused.
    with pytest.raises(MastodonAPIError) as unknown:
        owner.admin_update_domain_block("999999999", severity="silence")
    assert unknown.value.args[1] == 404
    with pytest.raises(MastodonAPIError) as invalid:
        owner.admin_create_domain_block("spam.example", severity="obliterate")
    assert invalid.value.args[1] == 422
    with pytest.raises(MastodonAPIError) as not_admin:
        ann.admin_domain_blocks()
    assert not_admin.value.args[1] == 403
    assert [entry["domain"] for entry in owner.admin_domain_blocks()] == [radboud.host]

    # Every admin action is in the audit logs, and the refused ones added nothing.
    assert audit_actions(mayo) == ["domain_block.create", "domain_block.update"]
    assert set(audit_actions(radboud)) == {"report.read"}  # reading a report is audited too


def admin_api(instance: Instance, api, method: str, path: str, **options) -> httpx.Response:
    return httpx.request(method, f"{instance.base_url}{path}", headers={"Authorization": f"Bearer {api.access_token}"},
                         timeout=30, **options)


def test_a_published_blocklist_is_subscribed_approved_enforced_and_retracted(hospitals):
    mayo, inova, radboud = hospitals
    inova_admin = person(inova, "inova_admin", role="admin", scopes=ADMIN_SCOPES)
    bo = person(inova, "dr_bo", role="staff")
    person(radboud, "dee", role="staff")
    dee_handle = f"dee@{radboud.domain}"
    assert find(bo, dee_handle)["acct"] == dee_handle  # reachable before any block
    blocked = mayo.cli("domains", "block", radboud.host, "--severity", "suspend", "--public-comment", "spam",
                       "--private-comment", "ticket 42")
    assert blocked.returncode == 0, blocked.stderr

    # The list is served only to members' signed fetches.
    assert httpx.get(f"{mayo.base_url}/blocklist", headers={"Accept": "application/activity+json"}).status_code == 401
    subscribed = admin_api(inova, inova_admin, "POST", "/api/v1/admin/blocklist_subscriptions",
                           json={"url": f"{mayo.base_url}/blocklist"})
    assert subscribed.status_code == 200, subscribed.text
    subscription = subscribed.json()["id"]
    refreshed = admin_api(inova, inova_admin, "POST", f"/api/v1/admin/blocklist_subscriptions/{subscription}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    drafts = admin_api(inova, inova_admin, "GET", "/api/v1/admin/blocklist_changes?state=pending").json()
    assert [(draft["domain"], draft["change"], draft["entry"]["severity"]) for draft in drafts] == [
        (radboud.host, "add", "suspend")]
    assert "ticket 42" not in json.dumps(drafts)
    assert inova_admin.admin_domain_blocks() == []  # a draft blocks nothing
    approved = admin_api(inova, inova_admin, "POST", f"/api/v1/admin/blocklist_changes/{drafts[0]['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert [(entry["domain"], entry["severity"]) for entry in inova_admin.admin_domain_blocks()] == [
        (radboud.host, "suspend")]
    assert bo.search_v2(dee_handle, resolve=True)["accounts"] == []  # enforced: no fetch, no account

    # Mayo lifts its block: the retraction arrives as a draft, and approving it lifts inova's copy.
    assert mayo.cli("domains", "unblock", radboud.host).returncode == 0
    admin_api(inova, inova_admin, "POST", f"/api/v1/admin/blocklist_subscriptions/{subscription}/refresh")
    retraction = admin_api(inova, inova_admin, "GET", "/api/v1/admin/blocklist_changes?state=pending").json()
    assert [(draft["domain"], draft["change"]) for draft in retraction] == [(radboud.host, "retract")]
    admin_api(inova, inova_admin, "POST", f"/api/v1/admin/blocklist_changes/{retraction[0]['id']}/approve")
    assert inova_admin.admin_domain_blocks() == []
    assert find(bo, dee_handle)["acct"] == dee_handle

    inova_log = audit_actions(inova)
    for action in ("domain_block.create", "domain_block.delete"):
        assert action in inova_log, inova_log
    assert {"domain_block.create", "domain_block.delete"} <= set(audit_actions(mayo))


def test_blocks_round_trip_through_mastodon_csv_and_bad_rows_are_named(hospitals, tmp_path):
    mayo, inova, _radboud = hospitals
    for domain, options in (("spam.example", ("--severity", "suspend", "--reject-reports")),
                            ("ads.example", ("--severity", "silence", "--reject-media", "--obfuscate",
                                             "--public-comment", "adverts, mostly"))):
        assert mayo.cli("domains", "block", domain, *options).returncode == 0
    exported = tmp_path / "blocks.csv"
    assert mayo.cli("domains", "export", str(exported)).returncode == 0
    header = exported.read_text().splitlines()[0]
    assert header == "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate"

    dry = inova.cli("domains", "import", str(exported), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "spam.example" in dry.stdout and "ads.example" in dry.stdout
    assert "(none)" in inova.cli("domains", "list").stdout or "spam.example" not in inova.cli("domains", "list").stdout
    assert inova.cli("domains", "import", str(exported)).returncode == 0
    again = tmp_path / "again.csv"
    assert inova.cli("domains", "export", str(again)).returncode == 0
    assert sorted(again.read_text().splitlines()) == sorted(exported.read_text().splitlines())

    broken = tmp_path / "broken.csv"
    broken.write_text(header + "\nnew.example,suspend,false,false,,false\nbad domain!,silence,false,false,,false\n"
                      "other.example,obliterate,false,false,,false\n")
    refused = inova.cli("domains", "import", str(broken))
    assert refused.returncode == 1
    assert "line 3" in refused.stderr and "line 4" in refused.stderr
    assert "new.example" not in inova.cli("domains", "export").stdout  # all rows or none


def test_network_mode_refuses_a_non_member_everywhere(new_database_url, tmp_path):
    with three_hospitals(new_database_url, tmp_path, mayo_mode="network") as (mayo, inova, radboud):
        ann = person(mayo, "ann", role="staff")
        bo = person(inova, "dr_bo", role="staff")
        dee = person(radboud, "dee", role="staff")
        ann_handle = f"ann@{mayo.domain}"
        assert find(ann, f"dr_bo@{inova.domain}")["acct"] == f"dr_bo@{inova.domain}"
        assert ann.search_v2(f"dee@{radboud.domain}", resolve=True)["accounts"] == []  # no fetch of a non-member
        bo.account_follow(find(bo, ann_handle)["id"])
        eventually(lambda: bo.account_relationships(find(bo, ann_handle)["id"])[0]["following"], "inova's follow")
        dee.account_follow(find(dee, ann_handle)["id"])  # radboud may try: mayo refuses its Follow (403)
        time.sleep(2)
        assert not dee.account_relationships(find(dee, ann_handle)["id"])[0]["following"]
        assert ann.account_followers(ann.me()["id"]) and all(
            account["acct"] != f"dee@{radboud.domain}" for account in ann.account_followers(ann.me()["id"]))
        posted = ann.status_post("members only", visibility="public")
        eventually(lambda: lookup(bo, posted["uri"]), "the post on inova")
        time.sleep(1)
        assert lookup(dee, posted["uri"]) is None
        nodeinfo = httpx.get(f"{mayo.base_url}/nodeinfo/2.1").json()
        assert nodeinfo["metadata"]["federationMode"] == "network"
        assert nodeinfo["metadata"]["network"]["name"] == "Hospital Network"

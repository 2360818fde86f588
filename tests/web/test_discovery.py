"""WebFinger, host-meta and NodeInfo, through the real app and a real database."""

import httpx
import pytest

from actors.accounts import ensure_instance_actor
from tests.conftest import add_account, make_settings
from web.app import create_app

JRD = "application/jrd+json"


@pytest.mark.parametrize(
    "resource",
    [
        "acct:ann@mayo.test",
        "acct:ANN@MAYO.TEST",
        "ann@mayo.test",
        "https://mayo.test/users/ann",
        "https://mayo.test/@ann",
    ],
)
async def test_webfinger_finds_a_local_account_by_handle_or_url(ctx, client, resource):
    await add_account(ctx, "ann")
    response = await client.get("/.well-known/webfinger", params={"resource": resource})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(JRD)
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert body["subject"] == "acct:ann@mayo.test"
    self_links = [link for link in body["links"] if link["rel"] == "self"]
    assert self_links == [{"rel": "self", "type": "application/activity+json",
                           "href": "https://mayo.test/users/ann"}]
    profile = [link for link in body["links"] if link["rel"] == "http://webfinger.net/rel/profile-page"]
    assert profile[0]["href"] == "https://mayo.test/@ann"


async def test_webfinger_finds_the_instance_actor(client):
    response = await client.get("/.well-known/webfinger", params={"resource": "acct:mayo.test@mayo.test"})
    assert response.status_code == 200
    assert response.json()["links"][-1]["href"] == "https://mayo.test/actor"


@pytest.mark.parametrize(
    "resource", ["", "acct:", "acct:ann", "acct:@mayo.test", "ann", "acct:an n@mayo.test"]
)
async def test_webfinger_malformed_resource_is_400(client, resource):
    response = await client.get("/.well-known/webfinger", params={"resource": resource})
    assert response.status_code == 400
    assert "error" in response.json()


async def test_webfinger_without_resource_is_400(client):
    response = await client.get("/.well-known/webfinger")
    assert response.status_code == 400
    assert response.json() == {"error": "the resource query parameter is required"}


@pytest.mark.parametrize(
    "resource",
    ["acct:nobody@mayo.test", "acct:ann@inova.test", "https://inova.test/users/ann",
     "https://mayo.test/users/ann/followers"],
)
async def test_webfinger_unknown_or_foreign_resource_is_404(ctx, client, resource):
    await add_account(ctx, "ann")
    response = await client.get("/.well-known/webfinger", params={"resource": resource})
    assert response.status_code == 404
    assert "error" in response.json()


async def test_host_meta_points_to_webfinger_in_xml_and_json(client):
    xml = await client.get("/.well-known/host-meta")
    assert xml.headers["content-type"].startswith("application/xrd+xml")
    assert 'template="https://mayo.test/.well-known/webfinger?resource={uri}"' in xml.text
    json_form = await client.get("/.well-known/host-meta.json")
    assert json_form.json()["links"][0]["template"] == "https://mayo.test/.well-known/webfinger?resource={uri}"


async def test_nodeinfo_discovery_lists_both_versions(client):
    links = (await client.get("/.well-known/nodeinfo")).json()["links"]
    assert [link["href"] for link in links] == [
        "https://mayo.test/nodeinfo/2.0", "https://mayo.test/nodeinfo/2.1"]


@pytest.mark.parametrize("version", ["2.0", "2.1"])
async def test_nodeinfo_counts_people_and_names_the_software(ctx, client, version):
    await add_account(ctx, "ann")
    await add_account(ctx, "dr_bo", role="staff")
    response = await client.get(f"/nodeinfo/{version}")
    assert response.status_code == 200
    assert f"schema/{version}#" in response.headers["content-type"]
    body = response.json()
    assert body["version"] == version
    assert body["software"]["name"] == "rounds"
    assert body["protocols"] == ["activitypub"]
    assert body["usage"]["users"] == {"total": 2, "activeMonth": 2, "activeHalfyear": 2}
    assert body["usage"]["localPosts"] == 0
    assert body["openRegistrations"] is False  # the default mode is approval


async def test_nodeinfo_unknown_version_is_404(client):
    assert (await client.get("/nodeinfo/3.0")).status_code == 404


async def test_nodeinfo_names_the_network_when_one_is_configured(tmp_path, database_url):
    network = tmp_path / "network.toml"
    network.write_text(
        'name = "Hospital Network"\n'
        '[[members]]\nname = "Mayo Clinic"\ndomain = "mayo.test"\n'
        '[[members]]\nname = "Inova"\ndomain = "inova.test"\ncontact = "it@inova.test"\n'
    )
    app = create_app(make_settings(database_url, network_file=network, federation_mode="network"))
    ctx = app.state.ctx
    async with ctx.database.transaction() as session:
        await ensure_instance_actor(session, ctx.keyring, ctx.urls)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://mayo.test"
    ) as client:
        metadata = (await client.get("/nodeinfo/2.1")).json()["metadata"]
    assert metadata["network"] == {
        "name": "Hospital Network",
        "members": [{"name": "Mayo Clinic", "domain": "mayo.test"},
                    {"name": "Inova", "domain": "inova.test"}],
    }
    assert metadata["federationMode"] == "network"
    await ctx.database.dispose()

"""`/api/v1/admin/domain_blocks` and `/domain_allows` as an admin's app uses them, and the public
`/api/v1/instance/domain_blocks`: Mastodon's shapes, its errors, admins only, every change audited."""

from __future__ import annotations

import hashlib

import pytest
from sqlmodel import select

from moderation.audit import entries
from storage.tables import DomainAllow, DomainBlock
from tests.conftest import add_account
from tests.support.api import bearer

ADMIN_SCOPES = ("read", "write", "admin:read", "admin:write")


@pytest.fixture
async def admin(ctx):
    account = await add_account(ctx, "ada", role="admin")
    return account, await bearer(ctx, account, ADMIN_SCOPES)


async def test_block_a_domain_then_read_change_and_lift_it(client, ctx, admin):
    account, token = admin
    created = await client.post("/api/v1/admin/domain_blocks/", headers=token, data={
        "domain": "Spam.Example.", "severity": "silence", "reject_media": "true",
        "private_comment": "seen selling pills", "public_comment": "Spam"})
    assert created.status_code == 200, created.text
    block = created.json()
    assert {key: block[key] for key in ("domain", "severity", "reject_media", "reject_reports", "private_comment",
                                        "public_comment", "obfuscate")} == {
        "domain": "spam.example", "severity": "silence", "reject_media": True, "reject_reports": False,
        "private_comment": "seen selling pills", "public_comment": "Spam", "obfuscate": False}
    assert block["digest"] == hashlib.sha256(b"spam.example").hexdigest() and block["created_at"].endswith("Z")

    shown = await client.get(f"/api/v1/admin/domain_blocks/{block['id']}", headers=token)
    assert shown.json() == block
    assert [row["domain"] for row in (await client.get("/api/v1/admin/domain_blocks", headers=token)).json()] == [
        "spam.example"]

    changed = await client.put(f"/api/v1/admin/domain_blocks/{block['id']}", headers=token,
                               json={"severity": "suspend", "obfuscate": True})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["severity"], changed.json()["obfuscate"], changed.json()["reject_media"]) == (
        "suspend", True, True)  # a PUT changes only the fields it names

    lifted = await client.delete(f"/api/v1/admin/domain_blocks/{block['id']}", headers=token)
    assert lifted.status_code == 200 and lifted.json() == {}
    assert (await client.get(f"/api/v1/admin/domain_blocks/{block['id']}", headers=token)).status_code == 404
    async with ctx.database.session() as session:
        assert (await session.exec(select(DomainBlock))).all() == []
        audited = [(entry.action, entry.target, entry.actor_id, entry.via)
                   for entry in await entries(session, action="domain_block.")]
    assert audited == [("domain_block.delete", "spam.example", account.actor.id, "api"),
                       ("domain_block.update", "spam.example", account.actor.id, "api"),
                       ("domain_block.create", "spam.example", account.actor.id, "api")]


async def test_blocking_a_blocked_or_covered_domain_is_refused_like_mastodon(client, admin):
    _, token = admin
    first = await client.post("/api/v1/admin/domain_blocks", headers=token,
                              data={"domain": "spam.example", "severity": "suspend"})
    assert first.status_code == 200
    again = await client.post("/api/v1/admin/domain_blocks", headers=token, data={"domain": "spam.example"})
    assert again.status_code == 422
    assert "already been taken" in again.json()["error"]
    assert again.json()["existing_domain_block"]["id"] == first.json()["id"]
    covered = await client.post("/api/v1/admin/domain_blocks", headers=token,
                                data={"domain": "social.spam.example", "severity": "silence"})
    assert covered.status_code == 422 and "covered by the block of spam.example" in covered.json()["error"]


@pytest.mark.parametrize(("form", "field", "words"), [
    ({}, "domain", "can't be blank"),
    ({"domain": "https://spam.example/users/x"}, "domain", "is not a domain"),
    ({"domain": "spam.example", "severity": "ban"}, "severity", "must be one of"),
    ({"domain": "spam.example", "public_comment": "x" * 1001}, "public_comment", "longer than 1000"),
])
async def test_bad_fields_are_a_422_naming_the_field(client, ctx, admin, form, field, words):
    _, token = admin
    answer = await client.post("/api/v1/admin/domain_blocks", headers=token, data=form)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["details"] and words in answer.json()["error"]
    async with ctx.database.session() as session:
        assert (await session.exec(select(DomainBlock))).all() == []


async def test_unknown_ids_are_404(client, admin):
    _, token = admin
    for method in ("get", "put", "delete"):
        answer = await client.request(method.upper(), "/api/v1/admin/domain_blocks/123456", headers=token)
        assert answer.status_code == 404, method
    assert (await client.get("/api/v1/admin/domain_allows/nope", headers=token)).status_code == 404


async def test_a_moderator_or_a_token_without_the_scope_is_refused(client, ctx, admin):
    moderator = await add_account(ctx, "mo", role="moderator")
    as_moderator = await bearer(ctx, moderator, ADMIN_SCOPES)
    answer = await client.post("/api/v1/admin/domain_blocks", headers=as_moderator, data={"domain": "spam.example"})
    assert answer.status_code == 403
    assert (await client.get("/api/v1/admin/domain_allows", headers=as_moderator)).status_code == 403
    account, _ = admin
    reader = await bearer(ctx, account, ("admin:read:domain_blocks",))
    assert (await client.get("/api/v1/admin/domain_blocks", headers=reader)).status_code == 200
    refused = await client.post("/api/v1/admin/domain_blocks", headers=reader, data={"domain": "spam.example"})
    assert refused.status_code == 403
    assert (await client.get("/api/v1/admin/domain_blocks")).status_code == 401


async def test_allow_list_then_remove_a_domain(client, ctx, admin):
    account, token = admin
    created = await client.post("/api/v1/admin/domain_allows", headers=token, data={"domain": "Partner.Example"})
    assert created.status_code == 200, created.text
    allow = created.json()
    assert allow["domain"] == "partner.example" and set(allow) == {"id", "domain", "created_at"}
    again = await client.post("/api/v1/admin/domain_allows", headers=token, data={"domain": "partner.example"})
    assert again.json()["id"] == allow["id"]
    assert (await client.get(f"/api/v1/admin/domain_allows/{allow['id']}", headers=token)).json() == allow
    assert (await client.get("/api/v1/admin/domain_allows", headers=token)).json() == [allow]
    bad = await client.post("/api/v1/admin/domain_allows", headers=token, data={"domain": "a b"})
    assert bad.status_code == 422
    assert (await client.delete(f"/api/v1/admin/domain_allows/{allow['id']}", headers=token)).status_code == 200
    async with ctx.database.session() as session:
        assert (await session.exec(select(DomainAllow))).all() == []
        assert [entry.action for entry in await entries(session, action="domain_allow.")] == [
            "domain_allow.delete", "domain_allow.create"]
        assert (await entries(session))[0].actor_id == account.actor.id


async def test_public_listing_obfuscates_and_never_shows_private_comments(client, admin):
    _, token = admin
    for form in ({"domain": "spam.example", "severity": "suspend", "public_comment": "Spam",
                  "private_comment": "secret"},
                 {"domain": "rude.example", "severity": "silence", "obfuscate": "1"},
                 {"domain": "pics.example", "severity": "noop", "reject_media": "1"}):
        assert (await client.post("/api/v1/admin/domain_blocks", headers=token, data=form)).status_code == 200
    listed = (await client.get("/api/v1/instance/domain_blocks")).json()
    assert listed == [
        {"domain": "rude.****ple", "digest": hashlib.sha256(b"rude.example").hexdigest(), "severity": "silence",
         "comment": None},
        {"domain": "spam.example", "digest": hashlib.sha256(b"spam.example").hexdigest(), "severity": "suspend",
         "comment": "Spam"},
    ]
    assert "secret" not in str(listed)

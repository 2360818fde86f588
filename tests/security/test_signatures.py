"""HTTP signatures at the inbox, through the public routes (checklist A1–A9, A13, A15, A17, E1, E3).

Every refusal is checked three ways: the right answer, nothing stored (every table's row
count unchanged, the sender's actor already cached so a key fetch adds nothing), and nothing
leaked (the post's text is neither in the answer nor in the logs).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from federation.httpsig import sign_rfc9421
from federation.keys import generate_rsa_key
from storage.tables import Actor, DomainBlock, Follow, InboxItem
from tests.security.conftest import INOVA, MAYO, RADBOUD
from tests.security.wire import (
    activity,
    assert_refused,
    cavage,
    changed,
    create,
    deliver,
    private_key,
    row_counts,
    signed_by,
)
from tests.support.actions import follow, post, status_on

BO = f"https://{INOVA}/users/dr_bo"
DEE = f"https://{RADBOUD}/users/dee"
INBOXES = [f"https://{MAYO}/inbox", f"https://{MAYO}/users/ann/inbox"]


@pytest.fixture
async def known(network):
    """The network, with mayo already knowing dr_bo and dee (so a refusal stores no actor either)."""
    (mayo, inova, radboud), drain = network
    await mayo.remote(BO)
    await mayo.remote(DEE)
    return network


async def assert_refused_and_nothing_stored(mayo, url, body, headers, status, caplog):
    before = await row_counts(mayo)
    with caplog.at_level(logging.DEBUG):
        response = await deliver(mayo, url, body, headers)
    assert_refused(response, status, logs=caplog.text)
    assert changed(before, await row_counts(mayo)) == {}


@pytest.mark.parametrize("inbox", INBOXES)
async def test_unsigned_delivery_is_refused_with_401(known, inbox, caplog):
    (mayo, _, _), _ = known
    body = create(BO, f"{BO}/statuses/1")
    unsigned = {"Content-Type": "application/activity+json"}
    await assert_refused_and_nothing_stored(mayo, inbox, body, unsigned, 401, caplog)


@pytest.mark.parametrize("inbox", INBOXES)
async def test_signature_by_a_key_that_is_not_the_actors_is_refused(known, inbox, caplog):
    (mayo, inova, _), _ = known
    body = create(BO, f"{BO}/statuses/1")
    headers = cavage(key=generate_rsa_key(), key_id=f"{BO}#main-key", url=inbox, body=body,
                     now=inova.federation.clock())
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


async def test_post_whose_digest_is_not_covered_by_the_signature_is_refused(known, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = await signed_by(inova, "dr_bo", inbox, body, covered=("(request-target)", "host", "date"))
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


@pytest.mark.parametrize("inbox", INBOXES)
async def test_body_changed_after_signing_is_refused(known, inbox, caplog):
    (mayo, inova, _), _ = known
    body = create(BO, f"{BO}/statuses/1")
    headers = await signed_by(inova, "dr_bo", inbox, body)
    tampered = body.replace(b"benign", b"malign")
    await assert_refused_and_nothing_stored(mayo, inbox, tampered, headers, 401, caplog)


@pytest.mark.parametrize("digest", [
    "SHA-512=" + "A" * 86 + "==",  # another algorithm only
    "SHA-256=not base64!",
    "SHA-256=" + "A" * 40,  # 30 bytes, not 32
])
async def test_digest_that_is_not_a_matching_sha256_is_refused(known, digest, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = await signed_by(inova, "dr_bo", inbox, body, digest=digest)
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


@pytest.mark.parametrize("offset", [timedelta(hours=-2), timedelta(days=-2), timedelta(minutes=30),
                                    timedelta(days=365)])
async def test_stale_or_future_date_is_refused(known, offset, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = await signed_by(inova, "dr_bo", inbox, body, now=inova.federation.clock() + offset)
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


async def test_unreadable_date_is_refused(known, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = await signed_by(inova, "dr_bo", inbox, body)
    headers["Date"] = "yesterday, around noon"
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


@pytest.mark.parametrize("algorithm", ["rsa-sha512", "hmac-sha256", "ecdsa-sha256", "none", "RSA-SHA1"])
async def test_unsupported_algorithm_is_refused(known, algorithm, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = await signed_by(inova, "dr_bo", inbox, body, algorithm=algorithm)
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


@pytest.mark.parametrize("signature", [
    "garbage",
    'keyId="https://inova.test/users/dr_bo#main-key"',
    'keyId="https://inova.test/users/dr_bo#main-key",signature="%%%"',
    'keyId="",headers="(request-target) host date digest",signature="AAAA"',
    'keyId="file:///etc/passwd",headers="(request-target) host date digest",signature="AAAA"',
    'keyId="javascript:alert(1)",headers="(request-target) host date digest",signature="AAAA"',
    'keyId="a",keyId="b",headers="(request-target) host date digest",signature="AAAA"',
    'keyId="https://inova.test/k",headers="(request-target) (bogus) host date digest",signature="AAAA"',
    'keyId="https://inova.test/k",headers="(request-target) host date digest",signature="' + "A" * 100_000 + '"',
])
async def test_malformed_signature_header_is_refused(known, signature, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = await signed_by(inova, "dr_bo", inbox, body)
    headers["Signature"] = signature
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


@pytest.mark.parametrize("signature_input", [
    "sig1=(", 'sig1=("@method");keyid="x"', "sig1=1", 'sig1=("@method" "@target-uri");keyid=x;created=1.5',
])
async def test_malformed_rfc9421_headers_are_refused(known, signature_input, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = {"Signature-Input": signature_input, "Signature": "sig1=:AAAA:",
               "Content-Type": "application/activity+json"}
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


async def test_rfc9421_signature_over_a_changed_body_or_with_a_foreign_algorithm_is_refused(known, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = sign_rfc9421(method="POST", url=inbox, body=body, key_id=f"{BO}#main-key",
                           private_key=await private_key(inova, "dr_bo"), now=inova.federation.clock())
    headers["Content-Type"] = "application/activity+json"
    await assert_refused_and_nothing_stored(mayo, inbox, body.replace(b"benign", b"malign"), headers, 401, caplog)
    foreign = dict(headers, **{"Signature-Input": headers["Signature-Input"].replace("rsa-v1_5-sha256",
                                                                                       "hmac-sha256")})
    await assert_refused_and_nothing_stored(mayo, inbox, body, foreign, 401, caplog)


async def test_signature_made_for_another_inbox_or_server_is_refused(known, caplog):
    (mayo, inova, _), _ = known
    body = create(BO, f"{BO}/statuses/1")
    # Signed for ann's inbox, replayed at the shared inbox; signed for radboud, replayed at mayo.
    for signed_for, sent_to in [(INBOXES[1], INBOXES[0]), (f"https://{RADBOUD}/inbox", INBOXES[0])]:
        headers = await signed_by(inova, "dr_bo", signed_for, body)
        headers["Host"] = MAYO
        await assert_refused_and_nothing_stored(mayo, sent_to, body, headers, 401, caplog)


async def test_signature_whose_key_cannot_be_fetched_stores_no_actor(known, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(f"https://{INOVA}/users/ghost", f"https://{INOVA}/users/ghost/statuses/1")
    for key_id in (f"https://{INOVA}/users/ghost#main-key", "https://nowhere.test/users/x#main-key"):
        headers = cavage(key=await private_key(inova, "dr_bo"), key_id=key_id, url=inbox, body=body,
                         now=inova.federation.clock())
        await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


async def test_create_signed_by_someone_other_than_its_actor_is_refused(known, caplog):
    (mayo, _, radboud), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = await signed_by(radboud, "dee", inbox, body)
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


async def test_delete_signed_by_someone_other_than_its_actor_has_no_effect(known):
    # Accepted (a forwarded Delete looks like this), but believed only if the origin agrees.
    (mayo, inova, radboud), drain = known
    await follow(mayo, "ann", BO)
    await drain()
    status = await post(inova, "dr_bo", "Clinic hours changed", "public")
    await drain()
    for forged in (activity(id=f"{status.uri}#delete", type="Delete", actor=BO,
                            object={"id": status.uri, "type": "Tombstone"}),
                   activity(id=f"{BO}#delete", type="Delete", actor=BO, object=BO)):
        response = await deliver(mayo, INBOXES[0], forged, await signed_by(radboud, "dee", INBOXES[0], forged))
        assert response.status_code == 202
    await drain()
    kept = await status_on(mayo, status.uri)
    assert kept is not None and kept.deleted_at is None and kept.content == "<p>Clinic hours changed</p>"
    async with mayo.ctx.database.session() as session:
        bo = (await session.exec(select(Actor).where(Actor.uri == BO))).one()
        assert (await session.exec(select(Follow).where(Follow.followee_id == bo.id))).one().state == "accepted"


async def test_captured_delivery_replayed_outside_the_window_is_refused(known, clock, caplog):
    (mayo, inova, _), drain = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1", text="Flu shots are open")
    headers = await signed_by(inova, "dr_bo", inbox, body)
    assert (await deliver(mayo, inbox, body, headers)).status_code == 202
    # Inside the window the replay is a duplicate: 202 and nothing new.
    before = await row_counts(mayo)
    assert (await deliver(mayo, inbox, body, headers)).status_code == 202
    assert changed(before, await row_counts(mayo)) == {}
    await drain()
    # Even once the first copy is purged (so no duplicate check can catch it), the time window does.
    async with mayo.ctx.database.transaction() as session:
        for item in (await session.exec(select(InboxItem))).all():
            await session.delete(item)
    clock.advance(hours=2)
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 401, caplog)


async def test_delivery_from_a_suspended_domain_is_refused_before_its_key_is_fetched(network, caplog):
    (mayo, _, radboud), _ = network
    async with mayo.ctx.database.transaction() as session:
        session.add(DomainBlock(domain=RADBOUD, severity="suspend"))
    inbox, body = INBOXES[0], create(DEE, f"{DEE}/statuses/1")
    headers = await signed_by(radboud, "dee", inbox, body)
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 403, caplog)
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(Actor).where(Actor.domain == RADBOUD))).first() is None


@pytest.mark.parametrize("content_type", ["text/plain", "text/html", "application/x-www-form-urlencoded", ""])
async def test_delivery_that_is_not_json_by_its_content_type_is_refused_with_415(known, content_type, caplog):
    (mayo, inova, _), _ = known
    inbox, body = INBOXES[0], create(BO, f"{BO}/statuses/1")
    headers = await signed_by(inova, "dr_bo", inbox, body, content_type=content_type)
    await assert_refused_and_nothing_stored(mayo, inbox, body, headers, 415, caplog)

"""Arbitrary input at `POST /inbox`: never a 500, never a partial write (checklist A15, D4, D9, E1).

Bodies are signed with dr_bo's real key, so whatever hypothesis builds gets past the signature
and reaches parsing, the door's checks and, once accepted, the worker's handlers. Headers are
then scrambled one at a time on an otherwise valid request. For every answer: a 4xx changes
no row anywhere; a 202 adds exactly one inbox item; the worker settles each item without a
crash ("error: …" is what the worker records when a handler raises something unexpected).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from federation.documents import DocumentError, parse_actor, parse_note
from storage.tables import InboxItem
from tests.security.conftest import INOVA, MAYO
from tests.security.wire import PUBLIC, changed, row_counts, signed_by
from tests.support.actions import follow

BO = f"https://{INOVA}/users/dr_bo"
ANN = f"https://{MAYO}/users/ann"
INBOX = f"https://{MAYO}/inbox"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
uris = st.sampled_from([BO, ANN, f"{BO}/statuses/1", f"https://{MAYO}/users/ann/statuses/1", PUBLIC,
                        f"{BO}/followers", "https://radboud.test/users/dee", "not a uri", "", "https://",
                        "javascript:alert(1)", "https://a@b/", f"{BO}#main-key"])
types = st.sampled_from(["Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo", "Like", "Announce",
                         "Block", "Flag", "Move", "Add", "Remove", "Note", "Question", "Person", "Tombstone",
                         "EmojiReact", "", "💥"]) | st.lists(st.text(max_size=5), max_size=2)
field = st.one_of(uris, json_values, st.lists(uris, max_size=3))
objects = st.one_of(uris, json_values, st.fixed_dictionaries(
    {"id": st.one_of(uris, st.builds(lambda n: f"{BO}/statuses/{n}", st.uuids())), "type": types},
    optional={"attributedTo": field, "content": st.one_of(st.text(max_size=40), json_values), "to": field,
              "cc": field, "tag": field, "attachment": field, "inReplyTo": field, "summary": field,
              "oneOf": field, "anyOf": field, "name": field, "object": field, "actor": field,
              "published": st.one_of(st.text(max_size=30), json_values), "url": field, "sensitive": field}))
activities = st.fixed_dictionaries(
    {"id": st.builds(lambda n: f"{BO}#fuzz/{n}", st.uuids()), "type": types, "actor": st.just(BO)},
    optional={"object": objects, "to": field, "cc": field, "target": field, "@context": json_values,
              "origin": field, "content": field})


async def post_and_check(mayo, inova, drain, body: bytes, headers: dict[str, str] | None = None) -> int:
    headers = headers or await signed_by(inova, "dr_bo", INBOX, body)
    before = await row_counts(mayo)
    response = await mayo.client.post(INBOX, content=body, headers=headers)
    assert response.status_code < 500, response.text
    after = await row_counts(mayo)
    if response.status_code == 202:
        added = changed(before, after)
        assert set(added) <= {"inbox_items"} and after["inbox_items"] - before["inbox_items"] <= 1, added
        await drain()
        async with mayo.ctx.database.session() as session:
            outcomes = (await session.exec(select(InboxItem.outcome))).all()
        assert not [outcome for outcome in outcomes if outcome.startswith("error:")], outcomes
    else:
        assert 400 <= response.status_code < 500
        assert changed(before, after) == {}
    return response.status_code


@pytest.fixture
async def followed(network):
    (mayo, inova, _), drain = network
    await follow(mayo, "ann", BO)
    await drain()
    return network


@FUZZ
@given(activity=activities)
async def test_arbitrary_activities_signed_by_a_real_key_never_crash_or_half_write(followed, activity):
    (mayo, inova, _), drain = followed
    await post_and_check(mayo, inova, drain, json.dumps(activity).encode())


@FUZZ
@given(body=st.one_of(json_values.map(lambda value: json.dumps(value).encode()), st.binary(max_size=200)))
async def test_arbitrary_json_and_bytes_signed_by_a_real_key_are_refused_cleanly(followed, body):
    (mayo, inova, _), drain = followed
    await post_and_check(mayo, inova, drain, body)


HEADER_NAMES = ["Signature", "Digest", "Date", "Content-Type", "Host", "Signature-Input", "Content-Digest",
                "Authorization", "Content-Length"]
header_values = st.one_of(
    st.binary(max_size=120).filter(lambda raw: b"\r" not in raw and b"\n" not in raw),
    st.sampled_from([b"", b"SHA-256=", b'keyId="https://inova.test/users/dr_bo#main-key"', b"sig1=:AAAA:",
                     b'sig1=("@method");created=1', b"Thu, 01 Jan 1970 00:00:00 GMT", b"application/activity+json;",
                     b"mayo.test:443", b"-1", b"99999999999999999999", b"Signature " + b"a" * 100]),
)


@FUZZ
@given(scrambled=st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, min_size=1, max_size=3),
       number=st.uuids())
async def test_scrambled_headers_on_a_valid_delivery_never_crash_or_half_write(followed, scrambled, number):
    (mayo, inova, _), drain = followed
    body = json.dumps({"id": f"{BO}#like/{number}", "type": "Like", "actor": BO,
                       "object": f"https://{MAYO}/users/ann/statuses/1"}).encode()
    headers: dict[str, str | bytes] = dict(await signed_by(inova, "dr_bo", INBOX, body))
    headers.update(scrambled)
    status = await post_and_check(mayo, inova, drain, body, headers)  # type: ignore[arg-type]
    if {"Signature", "Digest", "Date"} & set(scrambled):
        assert status != 202  # whatever replaced a signed part, the signature no longer holds


@settings(max_examples=60, deadline=None)
@given(objects)
def test_the_document_parsers_raise_only_document_error(document):
    for parse in (parse_note, parse_actor):
        if not isinstance(document, dict):
            continue
        try:
            parsed = parse(document)
        except DocumentError:
            continue
        assert parsed is not None  # parsed, or refused with DocumentError: never another exception


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({"id": uris, "type": types}, optional={
    "inbox": field, "outbox": field, "publicKey": st.one_of(field, st.fixed_dictionaries(
        {"id": field, "owner": field, "publicKeyPem": st.one_of(st.text(max_size=40), json_values)})),
    "preferredUsername": field, "name": field, "summary": field, "icon": field, "image": field,
    "attachment": field, "endpoints": st.one_of(field, st.fixed_dictionaries({"sharedInbox": field})),
    "followers": field, "manuallyApprovesFollowers": field}))
def test_actor_documents_raise_only_document_error(document):
    try:
        parsed = parse_actor(document)
    except DocumentError:
        return
    assert parsed.uri  # parsed, or refused with DocumentError: never another exception

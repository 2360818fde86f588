"""HTTP signatures: both schemes, both key types, and every refusal the inbox relies on."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.httpsig import (
    SignatureError,
    SignedRequest,
    load_public_key_pem,
    parse_signature,
    sign_cavage,
    sign_rfc9421,
    verify_signature,
)
from federation.keys import public_key_pem

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
URL = "https://mayo.test/users/ann/inbox"
BODY = b'{"type":"Create","id":"https://inova.test/1"}'
KEY_ID = "https://inova.test/users/bo#main-key"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


def received(headers, *, method="POST", url=URL, body=BODY) -> SignedRequest:
    return SignedRequest(method, url, {name.lower(): value for name, value in headers.items()}, body)


def check(request: SignedRequest, key, now=NOW) -> str:
    parsed = parse_signature(request, now=now)
    verify_signature(parsed, key.public_key())
    return parsed.scheme


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
@pytest.mark.parametrize("key_name", ["rsa_key", "ed_key"])
def test_post_signed_then_verified(request, sign, key_name):
    key = request.getfixturevalue(key_name)
    headers = sign(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=key, now=NOW)
    scheme = check(received(headers), key)
    assert scheme == ("cavage" if sign is sign_cavage else "rfc9421")
    assert parse_signature(received(headers), now=NOW).key_id == KEY_ID


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
def test_get_signed_without_body_is_verified(rsa_key, sign):
    headers = sign(method="GET", url="https://inova.test/users/bo/statuses/1", body=None, key_id=KEY_ID,
                   private_key=rsa_key, now=NOW)
    assert check(received(headers, method="GET", url="https://inova.test/users/bo/statuses/1", body=b""), rsa_key)


def test_rfc9421_signature_base_is_built_as_the_rfc_says(rsa_key):
    headers = sign_rfc9421(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    digest = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    created = int(NOW.timestamp())
    expected = (
        '"@method": POST\n'
        f'"@target-uri": {URL}\n'
        f'"content-digest": sha-256=:{digest}:\n'
        f'"@signature-params": ("@method" "@target-uri" "content-digest");created={created};'
        f'keyid="{KEY_ID}";alg="rsa-v1_5-sha256"'
    ).encode()
    assert parse_signature(received(headers), now=NOW).signing_base == expected
    assert headers["Content-Digest"] == f"sha-256=:{digest}:"


def test_cavage_signing_string_is_built_as_the_draft_says(rsa_key):
    headers = sign_cavage(method="POST", url=URL + "?x=1", body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    expected = (f"(request-target): post /users/ann/inbox?x=1\nhost: mayo.test\ndate: {headers['Date']}\n"
                f"digest: {headers['Digest']}").encode()
    assert parse_signature(received(headers, url=URL + "?x=1"), now=NOW).signing_base == expected
    assert headers["Date"] == "Sun, 22 Nov 2026 12:00:00 GMT"


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
def test_tampered_body_is_refused(rsa_key, sign):
    headers = sign(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    with pytest.raises(SignatureError, match="does not match the body"):
        check(received(headers, body=BODY.replace(b"Create", b"Delete")), rsa_key)


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
def test_another_key_is_refused(rsa_key, other_rsa_key, sign):
    headers = sign(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    with pytest.raises(SignatureError, match="does not match the key"):
        check(received(headers), other_rsa_key)


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
@pytest.mark.parametrize("url", ["https://mayo.test/inbox", "https://mayo.test/users/ann/inbox?again=1"])
def test_replay_against_another_target_is_refused(rsa_key, sign, url):
    headers = sign(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    with pytest.raises(SignatureError):
        check(received(headers, url=url), rsa_key)


@pytest.mark.parametrize("sign", [sign_cavage, sign_rfc9421])
@pytest.mark.parametrize("offset", [timedelta(hours=2), timedelta(minutes=-10)])
def test_stale_or_future_signature_is_refused(rsa_key, sign, offset):
    headers = sign(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW - offset)
    with pytest.raises(SignatureError, match="too old|future"):
        check(received(headers), rsa_key)


def test_unsigned_request_is_refused():
    with pytest.raises(SignatureError, match="not signed"):
        parse_signature(received({"content-type": "application/activity+json"}), now=NOW)


def test_cavage_post_without_digest_covered_is_refused(rsa_key):
    headers = sign_cavage(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    headers["Signature"] = headers["Signature"].replace('headers="(request-target) host date digest"',
                                                        'headers="(request-target) host date"')
    with pytest.raises(SignatureError, match="must cover the Digest"):
        parse_signature(received(headers), now=NOW)


def test_cavage_digest_of_another_algorithm_only_is_refused(rsa_key):
    headers = sign_cavage(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    headers["Digest"] = "SHA-512=" + base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    with pytest.raises(SignatureError, match="no SHA-256"):
        parse_signature(received(headers), now=NOW)


@pytest.mark.parametrize(("covered", "message"), [
    ("host date digest", r"\(request-target\)"),
    ("(request-target) date digest", "host"),
    ("(request-target) host digest", "date or"),
])
def test_cavage_signature_must_cover_target_host_and_time(rsa_key, covered, message):
    headers = sign_cavage(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    headers["Signature"] = headers["Signature"].replace("(request-target) host date digest", covered)
    with pytest.raises(SignatureError, match=message):
        parse_signature(received(headers), now=NOW)


def test_cavage_created_with_rsa_sha256_is_refused():
    headers = {"Signature": f'keyId="{KEY_ID}",algorithm="rsa-sha256",created="{int(NOW.timestamp())}",'
                            'headers="(request-target) host (created) digest",signature="AAAA"',
               "Host": "mayo.test", "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()}
    with pytest.raises(SignatureError, match="rsa-sha256"):
        parse_signature(received(headers), now=NOW)


def test_unsupported_algorithm_is_refused(rsa_key):
    headers = sign_cavage(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    headers["Signature"] = headers["Signature"].replace('algorithm="rsa-sha256"', 'algorithm="hmac-sha256"')
    with pytest.raises(SignatureError, match="unsupported"):
        parse_signature(received(headers), now=NOW)


def test_rfc9421_post_without_content_digest_covered_is_refused(rsa_key):
    headers = sign_rfc9421(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    headers["Signature-Input"] = headers["Signature-Input"].replace(' "content-digest"', "")
    with pytest.raises(SignatureError, match="Content-Digest"):
        parse_signature(received(headers), now=NOW)


def test_rfc9421_without_created_is_refused(rsa_key):
    headers = sign_rfc9421(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=rsa_key, now=NOW)
    headers["Signature-Input"] = headers["Signature-Input"].replace(f";created={int(NOW.timestamp())}", "")
    with pytest.raises(SignatureError, match="created"):
        parse_signature(received(headers), now=NOW)


def test_algorithm_that_does_not_fit_the_key_is_refused(ed_key):
    headers = sign_rfc9421(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=ed_key, now=NOW)
    headers["Signature-Input"] = headers["Signature-Input"].replace('alg="ed25519"', 'alg="rsa-v1_5-sha256"')
    parsed = parse_signature(received(headers), now=NOW)
    with pytest.raises(SignatureError):
        verify_signature(parsed, ed_key.public_key())


@pytest.mark.parametrize("headers", [
    {"Signature": "garbage"},
    {"Signature": 'keyId="x",signature="not base64!!",headers="(request-target) host date"'},
    {"Signature-Input": "sig1=nolist", "Signature": "sig1=:AAAA:"},
    {"Signature-Input": 'sig1=("@method" "@target-uri";created=1', "Signature": "sig1=:AAAA:"},
    {"Signature-Input": 'sig1=("@method");keyid="k"', "Signature": "other=:AAAA:"},
])
def test_malformed_headers_are_refused(headers):
    with pytest.raises(SignatureError):
        parse_signature(received(headers), now=NOW)


def test_public_key_pem_loads_and_garbage_does_not(rsa_key):
    assert load_public_key_pem(public_key_pem(rsa_key)).key_size == 2048
    with pytest.raises(SignatureError):
        load_public_key_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


header_values = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=300, deadline=None)
@given(signature=header_values, signature_input=st.one_of(st.none(), header_values),
       digest=header_values, body=st.binary(max_size=200))
def test_arbitrary_headers_only_ever_raise_signature_error(signature, signature_input, digest, body):
    headers = {"signature": signature, "digest": digest, "content-digest": digest, "host": "mayo.test",
               "date": "Sun, 22 Nov 2026 12:00:00 GMT"}
    if signature_input is not None:
        headers["signature-input"] = signature_input
    try:
        parsed = parse_signature(SignedRequest("POST", URL, headers, body), now=NOW)
    except SignatureError as error:
        assert error.reason  # every refusal says why
    else:
        assert parsed.key_id and parsed.signing_base

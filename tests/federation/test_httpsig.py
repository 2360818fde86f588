"""HTTP signatures: a peer signs, our inbox parses and verifies, and every rule refuses what it should.

Keys: one RSA-2048 pair per module (slow to make), Ed25519 pairs freely. The clock is fixed at
NOW; signatures made "earlier" or "later" pass `now=` to the signer. Expected signature bases
are written out literally, so a signer and verifier that agree with each other but not with the
specs still fail here.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from federation.httpsig import (
    ParsedSignature,
    SignatureError,
    SignedRequest,
    body_digest_header,
    content_digest_header,
    load_public_key_pem,
    parse_signature,
    rfc9421_signature_base,
    sign_cavage,
    sign_rfc9421,
    verify_signature,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CREATED = 1795348800  # NOW as a UNIX time, written out so the literal bases below stay literal
DATE = "Sun, 22 Nov 2026 12:00:00 GMT"
URL = "https://mayo.test/users/ann/inbox"
BODY = b'{"type":"Create","id":"https://inova.test/1"}'
BODY_SHA256 = "m1IgoGJA+K6FnrZW0KAvY5qhtHSxPBnKkS80IOj+N28="  # from `openssl dgst -sha256 -binary | base64`
KEY_ID = "https://inova.test/users/bo#main-key"
SIGNERS = {"cavage": sign_cavage, "rfc9421": sign_rfc9421}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(params=["rsa", "ed25519"])
def any_key(request, rsa_key):
    return rsa_key if request.param == "rsa" else ed25519.Ed25519PrivateKey.generate()


def signed(scheme: str, key, *, method="POST", url=URL, body: bytes | None = BODY, now=NOW) -> dict[str, str]:
    return SIGNERS[scheme](method=method, url=url, body=body, key_id=KEY_ID, private_key=key, now=now)


def received(headers, *, method="POST", url=URL, body=BODY) -> SignedRequest:
    """As our inbox sees a request: the Host the sender addressed plus the headers it sent."""
    return SignedRequest(method, url, {"Host": "mayo.test", **headers}, body)


def accepted(request: SignedRequest, key, now=NOW) -> ParsedSignature:
    parsed = parse_signature(request, now=now)
    verify_signature(parsed, key.public_key())
    return parsed


def refusal(request: SignedRequest, key=None, now=NOW) -> str:
    """The reason a request is refused, by parse_signature or (given a key) by verify_signature."""
    with pytest.raises(SignatureError) as refused:
        parsed = parse_signature(request, now=now)
        if key is not None:
            verify_signature(parsed, key.public_key())
    assert refused.value.reason == str(refused.value)
    return refused.value.reason


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign_bytes(key, base: str) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return b64(key.sign(base.encode(), padding.PKCS1v15(), hashes.SHA256()))
    return b64(key.sign(base.encode()))


def cavage_header(covered: str, signature: str = "AAAA", algorithm: str | None = "hs2019", **extra) -> str:
    parts = [f'keyId="{KEY_ID}"'] + ([f'algorithm="{algorithm}"'] if algorithm else [])
    parts += [f"{name}={value}" for name, value in extra.items()]
    parts += [f'headers="{covered}"', f'signature="{signature}"']
    return ",".join(parts)


# --- roundtrips -------------------------------------------------------------------------------


def test_cavage_post_roundtrip_with_rsa(rsa_key):
    parsed = accepted(received(signed("cavage", rsa_key)), rsa_key)
    assert (parsed.scheme, parsed.key_id, parsed.algorithm) == ("cavage", KEY_ID, "rsa-sha256")
    assert parsed.created == NOW
    assert parsed.covered == ("(request-target)", "host", "date", "digest")


def test_cavage_post_roundtrip_with_ed25519(ed_key):
    parsed = accepted(received(signed("cavage", ed_key)), ed_key)
    assert (parsed.scheme, parsed.algorithm) == ("cavage", "hs2019")


def test_rfc9421_post_roundtrip_with_rsa(rsa_key):
    parsed = accepted(received(signed("rfc9421", rsa_key)), rsa_key)
    assert (parsed.scheme, parsed.key_id, parsed.algorithm) == ("rfc9421", KEY_ID, "rsa-v1_5-sha256")
    assert parsed.created == NOW
    assert parsed.covered == ("@method", "@target-uri", "content-digest")


def test_rfc9421_post_roundtrip_with_ed25519(ed_key):
    parsed = accepted(received(signed("rfc9421", ed_key)), ed_key)
    assert (parsed.scheme, parsed.algorithm) == ("rfc9421", "ed25519")


@pytest.mark.parametrize("scheme", SIGNERS)
def test_signed_get_with_query_roundtrip_without_body(any_key, scheme):
    url = "https://mayo.test/users/ann/outbox?page=2&min_id=7"
    headers = signed(scheme, any_key, method="GET", url=url, body=None)
    assert "Digest" not in headers and "Content-Digest" not in headers
    assert accepted(received(headers, method="GET", url=url, body=b""), any_key).scheme == scheme


def test_cavage_headers_are_what_the_brief_names(rsa_key):
    headers = signed("cavage", rsa_key, url="https://mayo.test:8443/users/ann/inbox")
    assert set(headers) == {"Host", "Date", "Digest", "Signature"}
    assert headers["Host"] == "mayo.test:8443"
    assert headers["Date"] == DATE
    assert headers["Digest"] == f"SHA-256={BODY_SHA256}" == body_digest_header(BODY)
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    get = signed("cavage", rsa_key, method="GET", body=None)
    assert 'headers="(request-target) host date"' in get["Signature"]


def test_rfc9421_headers_are_what_the_brief_names(ed_key):
    headers = sign_rfc9421(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=ed_key, now=NOW,
                           label="rounds")
    assert headers["Content-Digest"] == f"sha-256=:{BODY_SHA256}:" == content_digest_header(BODY)
    assert headers["Signature-Input"] == (
        f'rounds=("@method" "@target-uri" "content-digest");created={CREATED};keyid="{KEY_ID}";alg="ed25519"')
    assert headers["Signature"].startswith("rounds=:") and headers["Signature"].endswith(":")
    get = sign_rfc9421(method="GET", url=URL, body=None, key_id=KEY_ID, private_key=ed_key, now=NOW)
    assert set(get) == {"Signature-Input", "Signature"}
    assert get["Signature-Input"].startswith('sig1=("@method" "@target-uri");')


def test_rfc9421_signs_the_method_upper_cased_as_it_goes_on_the_wire(ed_key):
    headers = sign_rfc9421(method="post", url=URL, body=BODY, key_id=KEY_ID, private_key=ed_key, now=NOW)
    assert accepted(received(headers, method="POST"), ed_key).signing_base.startswith(b'"@method": POST\n')


def test_non_default_port_is_part_of_the_signed_host(ed_key):
    url = "https://mayo.test:8443/users/ann/inbox"
    headers = signed("cavage", ed_key, url=url)
    assert accepted(SignedRequest("POST", url, headers, BODY), ed_key).scheme == "cavage"
    assert "not this server" in refusal(SignedRequest("POST", url, {**headers, "Host": "mayo.test"}, BODY))


def test_inbox_headers_from_starlette_are_read_case_insensitively(ed_key):
    raw = [(name.lower().encode(), value.encode()) for name, value in signed("rfc9421", ed_key).items()]
    request = SignedRequest("POST", URL, Headers(raw=[(b"host", b"mayo.test"), *raw]), BODY)
    assert accepted(request, ed_key).scheme == "rfc9421"


def test_cavage_signature_in_the_authorization_header_is_accepted(rsa_key):
    headers = signed("cavage", rsa_key)
    headers["Authorization"] = "Signature " + headers.pop("Signature")
    assert accepted(received(headers), rsa_key).scheme == "cavage"


@pytest.mark.parametrize("key_name", ["rsa_key", "ed_key"])
def test_cavage_without_algorithm_is_read_as_hs2019(request, key_name):
    key = request.getfixturevalue(key_name)
    headers = signed("cavage", key)
    headers["Signature"] = headers["Signature"].replace('algorithm="rsa-sha256",', "").replace(
        'algorithm="hs2019",', "")
    assert "algorithm" not in headers["Signature"]
    assert accepted(received(headers), key).algorithm == "hs2019"


def test_cavage_hs2019_with_created_and_expires_roundtrip_with_ed25519(ed_key):
    created, expires = CREATED - 60, CREATED + 240
    base = (f"(request-target): post /users/ann/inbox\n(created): {created}\n(expires): {expires}\n"
            f"host: mayo.test\ndigest: SHA-256={BODY_SHA256}")
    headers = {"Digest": f"SHA-256={BODY_SHA256}",
               "Signature": cavage_header("(request-target) (created) (expires) host digest",
                                          sign_bytes(ed_key, base), created=created, expires=expires)}
    parsed = accepted(received(headers), ed_key)
    assert parsed.signing_base == base.encode()
    assert parsed.created == NOW - timedelta(minutes=1)


def test_rfc9421_is_preferred_when_both_schemes_are_present(rsa_key, ed_key):
    cavage = signed("cavage", rsa_key)
    headers = {**signed("rfc9421", ed_key), "Date": cavage["Date"], "Digest": cavage["Digest"],
               "Authorization": "Signature " + cavage["Signature"]}
    assert accepted(received(headers), ed_key).scheme == "rfc9421"


def test_rfc9421_uses_the_first_label_that_has_a_keyid(ed_key):
    headers = signed("rfc9421", ed_key)
    headers["Signature-Input"] = f'proxy=("@method");created={CREATED}, ' + headers["Signature-Input"]
    headers["Signature"] = "proxy=:AAAA:, " + headers["Signature"]
    assert accepted(received(headers), ed_key).key_id == KEY_ID
    headers["Signature-Input"] += f', later=("@method");created={CREATED};keyid="https://elsewhere.test/k"'
    headers["Signature"] += ", later=:AAAA:"
    assert accepted(received(headers), ed_key).key_id == KEY_ID


def test_several_digests_are_fine_when_one_is_a_matching_sha256(ed_key):
    sha512 = b64(hashlib.sha512(BODY).digest())
    cavage = signed("cavage", ed_key)
    cavage["Digest"] = f"SHA-512={sha512}, sha-256={BODY_SHA256}"  # signed value and header must agree
    base = f"(request-target): post /users/ann/inbox\nhost: mayo.test\ndate: {DATE}\ndigest: {cavage['Digest']}"
    cavage["Signature"] = cavage_header("(request-target) host date digest", sign_bytes(ed_key, base))
    assert accepted(received(cavage), ed_key).scheme == "cavage"

    content_digest = f"sha-512=:{sha512}:, sha-256=:{BODY_SHA256}:"
    signature_input = f'("@method" "@target-uri" "content-digest");created={CREATED};keyid="{KEY_ID}"'
    base = (f'"@method": POST\n"@target-uri": {URL}\n"content-digest": {content_digest}\n'
            f'"@signature-params": {signature_input}')
    headers = {"Content-Digest": content_digest, "Signature-Input": f"sig1={signature_input}",
               "Signature": f"sig1=:{sign_bytes(ed_key, base)}:"}
    assert accepted(received(headers), ed_key).scheme == "rfc9421"


def test_signatures_inside_the_time_window_are_accepted(ed_key):
    for scheme in SIGNERS:
        assert accepted(received(signed(scheme, ed_key, now=NOW - timedelta(minutes=59))), ed_key)
        assert accepted(received(signed(scheme, ed_key, now=NOW + timedelta(minutes=4))), ed_key)


# --- signature bases, written out by hand ---------------------------------------------------


def test_cavage_signing_string_is_built_as_the_draft_says(rsa_key):
    url = URL + "?x=1"
    parsed = parse_signature(received(signed("cavage", rsa_key, url=url), url=url), now=NOW)
    assert parsed.signing_base == (
        b"(request-target): post /users/ann/inbox?x=1\n"
        b"host: mayo.test\n"
        b"date: Sun, 22 Nov 2026 12:00:00 GMT\n"
        b"digest: SHA-256=m1IgoGJA+K6FnrZW0KAvY5qhtHSxPBnKkS80IOj+N28="
    )


def test_rfc9421_signature_base_of_our_own_post_is_built_as_the_rfc_says(rsa_key):
    parsed = parse_signature(received(signed("rfc9421", rsa_key)), now=NOW)
    assert parsed.signing_base == (
        b'"@method": POST\n'
        b'"@target-uri": https://mayo.test/users/ann/inbox\n'
        b'"content-digest": sha-256=:m1IgoGJA+K6FnrZW0KAvY5qhtHSxPBnKkS80IOj+N28=:\n'
        b'"@signature-params": ("@method" "@target-uri" "content-digest");created=1795348800;'
        b'keyid="https://inova.test/users/bo#main-key";alg="rsa-v1_5-sha256"'
    )


def test_rfc9421_hand_written_signature_input_gives_the_literal_base_and_verifies(ed_key):
    url = "https://mayo.test:8443/users/ann/inbox?page=2"
    signature_input = (
        '( "@method"  "@authority" "@path" "@query" "content-type" "x-note" "content-digest" )'
        ';keyid="https://inova.test/users/bo#main-key";created=1795348800;expires=1795349100'
        ';nonce="n-1";tag="fediverse";flag'
    )
    expected = (
        '"@method": POST\n'
        '"@authority": mayo.test:8443\n'
        '"@path": /users/ann/inbox\n'
        '"@query": ?page=2\n'
        '"content-type": application/activity+json\n'
        '"x-note": first, second\n'
        '"content-digest": sha-256=:m1IgoGJA+K6FnrZW0KAvY5qhtHSxPBnKkS80IOj+N28=:\n'
        '"@signature-params": ("@method" "@authority" "@path" "@query" "content-type" "x-note" "content-digest")'
        ';keyid="https://inova.test/users/bo#main-key";created=1795348800;expires=1795349100'
        ';nonce="n-1";tag="fediverse";flag'
    )
    raw = [(b"host", b"mayo.test:8443"), (b"content-type", b"application/activity+json"),
           (b"x-note", b" first "), (b"X-Note", b"second\t"),  # repeated: trimmed, then joined with ", "
           (b"content-digest", f"sha-256=:{BODY_SHA256}:".encode()),
           (b"signature-input", f"sig1={signature_input}".encode()),
           (b"signature", f"sig1=:{sign_bytes(ed_key, expected)}:".encode())]
    parsed = accepted(SignedRequest("POST", url, Headers(raw=raw), BODY), ed_key)
    assert parsed.signing_base == expected.encode()
    assert parsed.algorithm is None  # no alg parameter: the key decides


def test_rfc9421_authority_is_lowercased_without_the_default_port():
    request = SignedRequest("GET", "https://MAYO.test:443/users/ann?q", {
        "Signature-Input": 'sig1=("@authority" "@path" "@query" "@scheme" "@request-target");created=1',
        "Signature": "sig1=:AAAA:"}, b"")
    assert rfc9421_signature_base(request, "sig1") == (
        b'"@authority": mayo.test\n"@path": /users/ann\n"@query": ?q\n"@scheme": https\n'
        b'"@request-target": /users/ann?q\n'
        b'"@signature-params": ("@authority" "@path" "@query" "@scheme" "@request-target");created=1'
    )
    without_query = SignedRequest("GET", "http://mayo.test:80", {
        "Signature-Input": 'sig1=("@authority" "@path" "@query" "@request-target" "@target-uri")',
        "Signature": "sig1=:AAAA:"}, b"")
    assert rfc9421_signature_base(without_query, "sig1") == (
        b'"@authority": mayo.test\n"@path": /\n"@query": ?\n"@request-target": /\n"@target-uri": http://mayo.test:80\n'
        b'"@signature-params": ("@authority" "@path" "@query" "@request-target" "@target-uri")'
    )


# RFC 9421 Appendix B.1.4 (test-key-ed25519) and B.2.6 "Signing a Request Using ed25519", over the
# test request of Appendix B.2. Ed25519 is deterministic: the private key of B.1.4 reproduces this
# exact signature over this exact base, which is how these bytes were checked.
RFC9421_ED25519_PUBLIC_KEY = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""
RFC9421_B26_SIGNATURE = ("wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1"
                         "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==")
RFC9421_B26_REQUEST = SignedRequest("POST", "https://example.com/foo?param=Value&Pet=dog", {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHW"
                      "XvJwew==:",
    "Content-Length": "18",
    "Signature-Input": 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
                       ';created=1618884473;keyid="test-key-ed25519"',
    "Signature": f"sig-b26=:{RFC9421_B26_SIGNATURE}:",
}, b'{"hello": "world"}')


def test_rfc9421_published_ed25519_example_b26_gives_the_rfc_base_and_verifies():
    base = rfc9421_signature_base(RFC9421_B26_REQUEST, "sig-b26")
    assert base == (
        b'"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
        b'"@method": POST\n'
        b'"@path": /foo\n'
        b'"@authority": example.com\n'
        b'"content-type": application/json\n'
        b'"content-length": 18\n'
        b'"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
        b';created=1618884473;keyid="test-key-ed25519"'
    )
    signature = base64.b64decode(RFC9421_B26_SIGNATURE)
    parsed = ParsedSignature(scheme="rfc9421", key_id="test-key-ed25519", algorithm=None, signing_base=base,
                             signature=signature, created=datetime.fromtimestamp(1618884473, tz=UTC))
    verify_signature(parsed, load_public_key_pem(RFC9421_ED25519_PUBLIC_KEY))
    tampered = ParsedSignature(**{**parsed.__dict__, "signing_base": base.replace(b"/foo", b"/bar")})
    with pytest.raises(SignatureError, match="does not match the key"):
        verify_signature(tampered, load_public_key_pem(RFC9421_ED25519_PUBLIC_KEY))


def test_rfc9421_published_example_is_still_refused_by_the_inbox_rules():
    # It covers @path but not the query, and signs no Content-Digest: fine for the RFC, not for an inbox.
    when = datetime(2021, 4, 20, 2, 7, 55, tzinfo=UTC)
    assert "@query" in refusal(RFC9421_B26_REQUEST, now=when)


# --- refusals ---------------------------------------------------------------------------------


def test_unsigned_request_is_refused():
    assert "not signed" in refusal(received({"Content-Type": "application/activity+json", "Date": DATE}))


@pytest.mark.parametrize("scheme", SIGNERS)
def test_signature_by_another_key_is_refused(rsa_key, other_rsa_key, scheme):
    assert refusal(received(signed(scheme, rsa_key)), other_rsa_key) == "signature does not match the key"


@pytest.mark.parametrize("scheme", SIGNERS)
def test_post_with_tampered_body_is_refused(rsa_key, scheme):
    tampered = BODY.replace(b"Create", b"Delete")
    assert "does not match the body" in refusal(received(signed(scheme, rsa_key), body=tampered), rsa_key)


def test_cavage_post_without_digest_covered_is_refused(rsa_key):
    headers = signed("cavage", rsa_key)
    headers["Signature"] = headers["Signature"].replace("host date digest", "host date")
    assert "must cover the Digest" in refusal(received(headers))


def test_rfc9421_post_without_content_digest_covered_is_refused(ed_key):
    headers = signed("rfc9421", ed_key)
    headers["Signature-Input"] = headers["Signature-Input"].replace(' "content-digest"', "")
    assert "must cover Content-Digest" in refusal(received(headers))


def test_get_with_a_body_must_cover_its_digest(ed_key):
    headers = signed("cavage", ed_key, method="GET", body=None)
    assert "Digest" in refusal(received(headers, method="GET", body=b"smuggled"))


@pytest.mark.parametrize("scheme", SIGNERS)
def test_covered_digest_header_that_is_absent_is_refused(ed_key, scheme):
    headers = signed(scheme, ed_key)
    headers.pop("Digest" if scheme == "cavage" else "Content-Digest")
    assert "Digest header is missing" in refusal(received(headers))


@pytest.mark.parametrize(("digest", "message"), [
    ("SHA-512=" + b64(hashlib.sha512(BODY).digest()), "no SHA-256"),
    ("SHA-256=not*base64", "not valid base64"),
    ("SHA-256=" + b64(hashlib.sha256(BODY).digest()[:31]), "not 32 bytes"),
    ("SHA-256=" + b64(hashlib.sha256(b"other").digest()), "does not match the body"),
    ("SHA-256", "malformed"),
])
def test_cavage_digest_that_is_not_a_matching_sha256_is_refused(ed_key, digest, message):
    headers = {**signed("cavage", ed_key), "Digest": digest}
    assert message in refusal(received(headers))


@pytest.mark.parametrize(("digest", "message"), [
    ("sha-512=:" + b64(hashlib.sha512(BODY).digest()) + ":", "no sha-256"),
    (f'sha-256="{BODY_SHA256}"', "not a byte sequence"),
    (f"sha-256={BODY_SHA256}", "malformed"),
    (f"SHA-256=:{BODY_SHA256}:", "malformed"),  # a structured dictionary: keys are lowercase
    ("sha-256=:" + b64(hashlib.sha256(BODY).digest()[:31]) + ":", "not 32 bytes"),
    ("sha-256=:" + b64(hashlib.sha256(b"other").digest()) + ":", "does not match the body"),
])
def test_rfc9421_content_digest_that_is_not_a_matching_sha256_is_refused(ed_key, digest, message):
    headers = {**signed("rfc9421", ed_key), "Content-Digest": digest}
    assert message in refusal(received(headers))


@pytest.mark.parametrize("scheme", SIGNERS)
def test_stale_signature_is_refused(ed_key, scheme):
    headers = signed(scheme, ed_key, now=NOW - timedelta(hours=2))
    assert "too old" in refusal(received(headers))


@pytest.mark.parametrize("scheme", SIGNERS)
def test_signature_from_the_future_is_refused(ed_key, scheme):
    headers = signed(scheme, ed_key, now=NOW + timedelta(minutes=10))
    assert "future" in refusal(received(headers))


def test_time_window_is_the_callers_to_choose(ed_key):
    request = received(signed("rfc9421", ed_key, now=NOW - timedelta(minutes=10)))
    assert parse_signature(request, now=NOW).created == NOW - timedelta(minutes=10)
    with pytest.raises(SignatureError, match="too old"):
        parse_signature(request, now=NOW, max_age=timedelta(minutes=5))


def test_cavage_unreadable_date_is_refused(ed_key):
    headers = {**signed("cavage", ed_key), "Date": "yesterday-ish"}
    assert "Date header cannot be read" in refusal(received(headers))


def test_cavage_stale_date_is_refused_even_when_created_is_fresh(ed_key):
    old_date = "Sun, 22 Nov 2026 09:00:00 GMT"
    headers = {"Date": old_date, "Digest": f"SHA-256={BODY_SHA256}",
               "Signature": cavage_header("(request-target) host date (created) digest", created=CREATED)}
    assert "too old" in refusal(received(headers))


def test_rfc9421_expired_signature_is_refused(ed_key):
    signature_input = (f'("@method" "@target-uri" "content-digest");created={CREATED - 60};keyid="{KEY_ID}"'
                       f";expires={CREATED - 1}")
    base = (f'"@method": POST\n"@target-uri": {URL}\n"content-digest": sha-256=:{BODY_SHA256}:\n'
            f'"@signature-params": {signature_input}')
    headers = {"Content-Digest": f"sha-256=:{BODY_SHA256}:", "Signature-Input": f"sig1={signature_input}",
               "Signature": f"sig1=:{sign_bytes(ed_key, base)}:"}
    assert "expired" in refusal(received(headers))
    later = headers | {"Signature-Input": headers["Signature-Input"].replace(f"expires={CREATED - 1}",
                                                                             f"expires={CREATED + 1}")}
    assert "does not match the key" in refusal(received(later), ed_key)  # expires is signed too


def test_cavage_expired_signature_is_refused(ed_key):
    headers = {"Digest": f"SHA-256={BODY_SHA256}",
               "Signature": cavage_header("(request-target) (created) (expires) host digest",
                                          created=CREATED - 600, expires=CREATED - 300)}
    assert "expired" in refusal(received(headers))


@pytest.mark.parametrize("scheme", SIGNERS)
@pytest.mark.parametrize("url", [
    "https://mayo.test/inbox",  # another path
    "https://mayo.test/users/ann/inbox?again=1",  # a query added
])
def test_replay_against_another_target_is_refused(ed_key, scheme, url):
    assert refusal(received(signed(scheme, ed_key), url=url), ed_key) == "signature does not match the key"


@pytest.mark.parametrize("scheme", SIGNERS)
def test_replay_with_another_query_is_refused(ed_key, scheme):
    url = "https://mayo.test/users/ann/outbox?page=1"
    headers = signed(scheme, ed_key, method="GET", url=url, body=None)
    other = "https://mayo.test/users/ann/outbox?page=2"
    assert refusal(received(headers, method="GET", url=other, body=b""), ed_key) == "signature does not match the key"


@pytest.mark.parametrize("scheme", SIGNERS)
def test_replay_with_another_method_is_refused(ed_key, scheme):
    headers = signed(scheme, ed_key)
    assert refusal(received(headers, method="PUT"), ed_key) == "signature does not match the key"
    get = signed(scheme, ed_key, method="GET", body=None)
    assert "Digest" in refusal(received(get, method="POST"), ed_key)


def test_cavage_signature_for_another_host_is_refused(ed_key):
    headers = signed("cavage", ed_key, url="https://inova.test/users/ann/inbox")
    assert "not this server" in refusal(SignedRequest("POST", URL, headers, BODY))


def test_rfc9421_signature_for_another_host_is_refused(ed_key):
    headers = signed("rfc9421", ed_key, url="https://inova.test/users/ann/inbox")
    assert refusal(received(headers), ed_key) == "signature does not match the key"


@pytest.mark.parametrize(("covered", "message"), [
    ("host date digest", r"must cover (request-target)"),
    ("(request-target) date digest", "must cover host"),
    ("(request-target) host digest", "must cover date or (created)"),
    ("(request-target) host date digest content-type", "'content-type' is missing"),
    ("(request-target) host date date digest", "twice"),
    ("(request-target) (foo) host date digest", "unsupported pseudo-header"),
])
def test_cavage_signature_must_cover_target_host_and_time(ed_key, covered, message):
    headers = signed("cavage", ed_key)
    headers["Signature"] = headers["Signature"].replace("(request-target) host date digest", covered)
    assert message in refusal(received(headers))


def test_cavage_without_headers_parameter_covers_only_created_and_is_refused():
    headers = {"Date": DATE, "Digest": f"SHA-256={BODY_SHA256}",
               "Signature": f'keyId="{KEY_ID}",algorithm="hs2019",created={CREATED},signature="AAAA"'}
    assert "(request-target)" in refusal(received(headers))


def test_cavage_created_with_rsa_sha256_is_refused():
    headers = {"Digest": f"SHA-256={BODY_SHA256}",
               "Signature": cavage_header("(request-target) host (created) digest", algorithm="rsa-sha256",
                                          created=CREATED)}
    assert "cannot be used with rsa-sha256" in refusal(received(headers))


def test_cavage_created_covered_without_the_parameter_is_refused():
    headers = {"Digest": f"SHA-256={BODY_SHA256}",
               "Signature": cavage_header("(request-target) host (created) digest")}
    assert "created parameter is missing" in refusal(received(headers))


@pytest.mark.parametrize(("change", "message"), [
    ('("@target-uri" "content-digest")', "must cover @method"),
    ('("@method" "content-digest")', "must cover the target"),
    ('("@method" "@authority" "@path" "content-digest")', "must cover @query"),
    ('("@method" "@path" "@query" "content-digest")', "must cover the host"),
    ('("@method" "@target-uri" "content-digest" "content-type")', "'content-type' is missing"),
    ('("@method" "@target-uri" "@method" "content-digest")', "twice"),
])
def test_rfc9421_signature_must_cover_method_target_and_host(ed_key, change, message):
    url = URL + "?x=1"
    headers = signed("rfc9421", ed_key, url=url)
    headers["Signature-Input"] = headers["Signature-Input"].replace(
        '("@method" "@target-uri" "content-digest")', change)
    assert message in refusal(received(headers, url=url))


def test_rfc9421_path_query_and_authority_instead_of_target_uri_are_accepted(ed_key):
    url = URL + "?x=1"
    signature_input = f'("@method" "@authority" "@path" "@query" "content-digest");created={CREATED};keyid="{KEY_ID}"'
    base = (f'"@method": POST\n"@authority": mayo.test\n"@path": /users/ann/inbox\n"@query": ?x=1\n'
            f'"content-digest": sha-256=:{BODY_SHA256}:\n"@signature-params": {signature_input}')
    headers = {"Content-Digest": f"sha-256=:{BODY_SHA256}:", "Signature-Input": f"sig1={signature_input}",
               "Signature": f"sig1=:{sign_bytes(ed_key, base)}:"}
    assert accepted(received(headers, url=url), ed_key).signing_base == base.encode()


def test_rfc9421_without_created_is_refused(ed_key):
    headers = signed("rfc9421", ed_key)
    headers["Signature-Input"] = headers["Signature-Input"].replace(f";created={CREATED}", "")
    assert "no created parameter" in refusal(received(headers))


@pytest.mark.parametrize(("scheme", "old", "new"), [
    ("cavage", 'algorithm="rsa-sha256"', 'algorithm="hmac-sha256"'),
    ("cavage", 'algorithm="rsa-sha256"', 'algorithm="ecdsa-sha256"'),
    ("rfc9421", 'alg="rsa-v1_5-sha256"', 'alg="rsa-pss-sha512"'),
    ("rfc9421", 'alg="rsa-v1_5-sha256"', 'alg="hmac-sha256"'),
])
def test_unsupported_algorithm_is_refused(rsa_key, scheme, old, new):
    headers = signed(scheme, rsa_key)
    header = "Signature" if scheme == "cavage" else "Signature-Input"
    headers[header] = headers[header].replace(old, new)
    assert "unsupported signature algorithm" in refusal(received(headers))


def test_algorithm_that_does_not_fit_the_key_is_refused(rsa_key, ed_key):
    headers = signed("rfc9421", ed_key)
    headers["Signature-Input"] = headers["Signature-Input"].replace('alg="ed25519"', 'alg="rsa-v1_5-sha256"')
    assert "does not fit an Ed25519 key" in refusal(received(headers), ed_key)
    headers = signed("rfc9421", rsa_key)
    headers["Signature-Input"] = headers["Signature-Input"].replace('alg="rsa-v1_5-sha256"', 'alg="ed25519"')
    assert "does not fit an RSA key" in refusal(received(headers), rsa_key)
    headers = signed("cavage", ed_key)
    headers["Signature"] = headers["Signature"].replace('algorithm="hs2019"', 'algorithm="rsa-sha256"')
    assert "does not fit an Ed25519 key" in refusal(received(headers), ed_key)


@pytest.mark.parametrize("scheme", SIGNERS)
def test_signed_header_with_a_line_break_is_refused(ed_key, scheme):
    # A line break inside a value could forge extra lines of the signature base.
    headers = {**signed(scheme, ed_key), "X-A": "a\n(request-target): get /"}
    if scheme == "cavage":
        headers["Signature"] = headers["Signature"].replace("date digest", "date digest x-a")
    else:
        headers["Signature-Input"] = headers["Signature-Input"].replace('"content-digest"', '"content-digest" "x-a"')
    assert "'x-a' holds a line break" in refusal(received(headers))


@pytest.mark.parametrize(("signature", "message"), [
    ("garbage", "malformed"),
    ('keyId="k",algorithm="hs2019",headers="(request-target) host date digest"', "needs keyId and signature"),
    ('algorithm="hs2019",headers="(request-target) host date digest",signature="AAAA"', "needs keyId and signature"),
    ('keyId="",headers="(request-target) host date digest",signature="AAAA"', "needs keyId and signature"),
    ('keyId="k",signature="not base64!!",headers="(request-target) host date digest"', "not valid base64"),
    ('keyId="k",keyId="j",signature="AAAA",headers="(request-target) host date digest"', "twice"),
    ('keyId="k",signature="AAAA",headers="(request-target) host date digest",', "malformed"),
    ('keyId="k" signature="AAAA"', "malformed"),
    ('keyId="k,signature="AAAA"', "malformed"),
    ("keyId=k,signature=\"AAAA\"", "malformed"),
    ('keyId="k",created=99999999999999999999,headers="(request-target) host (created) digest",signature="AAAA"',
     "malformed"),
])
def test_malformed_cavage_signature_header_is_refused(signature, message):
    headers = {"Date": DATE, "Digest": f"SHA-256={BODY_SHA256}", "Signature": signature}
    assert message in refusal(received(headers))


@pytest.mark.parametrize(("signature_input", "signature", "message"), [
    ("sig1=nolist", "sig1=:AAAA:", "not an inner list"),
    ('sig1=("@method" "@target-uri";created=1', "sig1=:AAAA:", "malformed"),
    ('Sig1=("@method");keyid="k"', "Sig1=:AAAA:", "malformed"),
    ('sig1=("@method");keyid="k";created=1.5', "sig1=:AAAA:", "decimals"),
    ('sig1=("@method");keyid="k";created=1234567890123456', "sig1=:AAAA:", "15 digits"),
    ('sig1=("@method");keyid="k", sig1=("@path");keyid="k"', "sig1=:AAAA:", "twice"),
    ('sig1=("@method");keyid="k";keyid="j"', "sig1=:AAAA:", "twice"),
    ('sig1=("@method");keyid="k",', "sig1=:AAAA:", "after the comma"),
    ('sig1=("@method");keyid="k" sig2=()', "sig1=:AAAA:", "malformed"),
    ('sig1=(@method);keyid="k"', "sig1=:AAAA:", "malformed"),
    ('sig1=(method 1);keyid="k"', "sig1=:AAAA:", "not a string"),
    ('sig1=("@method" "content-digest";sf);keyid="k"', "sig1=:AAAA:", "component parameters"),
    ('sig1=("@query-param";name="x");keyid="k"', "sig1=:AAAA:", "component parameters"),
    ('sig1=("@status");keyid="k"', "sig1=:AAAA:", "unsupported derived component"),
    ('sig1=("Content-Digest");keyid="k"', "sig1=:AAAA:", "lowercase field name"),
    ('sig1=("@method");keyid=k', "sig1=:AAAA:", "wrong type"),
    ('sig1=("@method");keyid="k";created="1"', "sig1=:AAAA:", "wrong type"),
    ('sig1=("@method");keyid="k";alg=?1', "sig1=:AAAA:", "wrong type"),
    ('sig1=("@method");keyid="caf\u00e9"', "sig1=:AAAA:", "printable ASCII"),
    ('sig1=("@method");created=1', "sig1=:AAAA:", "no signature in Signature-Input has a keyid"),
    ('sig1=("@method");keyid="k"', "other=:AAAA:", "no signature labelled 'sig1'"),
    ('sig1=("@method");keyid="k"', 'sig1="AAAA"', "not a byte sequence"),
    ('sig1=("@method");keyid="k"', "sig1=::", "not a byte sequence"),
    ('sig1=("@method");keyid="k"', "sig1=:not base64!:", "malformed"),
    ('sig1=("@method");keyid="k"', "sig1=:AAA:", "base64"),
    ('sig1=("@method");keyid="k"', None, "Signature header is missing"),
    ("", "sig1=:AAAA:", "names no signature"),
])
def test_malformed_rfc9421_headers_are_refused(signature_input, signature, message):
    headers = {"Date": DATE, "Content-Digest": f"sha-256=:{BODY_SHA256}:", "Signature-Input": signature_input}
    if signature is not None:
        headers["Signature"] = signature
    assert message in refusal(received(headers))


def test_naive_clock_is_a_programming_error(ed_key):
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_signature(received(signed("cavage", ed_key)), now=NOW.replace(tzinfo=None))


# --- keys -------------------------------------------------------------------------------------


def pem_of(public_key) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def test_public_keys_load_from_pem(rsa_key, ed_key):
    assert load_public_key_pem(pem_of(rsa_key.public_key())).key_size == 2048
    assert isinstance(load_public_key_pem(pem_of(ed_key.public_key())), ed25519.Ed25519PublicKey)
    pkcs1 = rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    assert load_public_key_pem(pkcs1.decode()).key_size == 2048


@pytest.mark.parametrize(("pem", "message"), [
    ("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n", "cannot be read"),
    ("", "cannot be read"),
    ("-----BEGIN PUBLIC KEY-----\n\u00e9\n-----END PUBLIC KEY-----\n", "cannot be read"),
    (pem_of(rsa.RSAPublicNumbers(65537, (1 << 511) | 0x2F).public_key()), "too short"),
    (pem_of(ec.generate_private_key(ec.SECP256R1()).public_key()), "only RSA and Ed25519"),
])
def test_unusable_public_keys_are_refused(pem, message):
    with pytest.raises(SignatureError, match=message):
        load_public_key_pem(pem)


def test_verification_with_an_unsupported_key_type_is_refused(ed_key):
    parsed = parse_signature(received(signed("rfc9421", ed_key)), now=NOW)
    with pytest.raises(SignatureError, match="only RSA and Ed25519"):
        verify_signature(parsed, ec.generate_private_key(ec.SECP256R1()).public_key())


def test_signing_refuses_what_cannot_be_written_into_a_header(ed_key):
    with pytest.raises(ValueError):
        sign_cavage(method="POST", url=URL, body=BODY, key_id='bad"id', private_key=ed_key, now=NOW)
    with pytest.raises(ValueError):
        sign_rfc9421(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=ed_key, now=NOW, label="Sig")
    with pytest.raises(ValueError, match="not absolute"):
        sign_rfc9421(method="POST", url="/users/ann/inbox", body=BODY, key_id=KEY_ID, private_key=ed_key, now=NOW)
    with pytest.raises(ValueError, match="may not replace"):
        sign_cavage(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=ed_key, now=NOW,
                    extra_headers={"date": DATE})
    extra = sign_cavage(method="POST", url=URL, body=BODY, key_id=KEY_ID, private_key=ed_key, now=NOW,
                        extra_headers={"Content-Type": "application/activity+json"})
    assert extra["Content-Type"] == "application/activity+json"
    assert "content-type" not in extra["Signature"]  # added, but not signed


# --- properties -------------------------------------------------------------------------------

header_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120)
sf_like = st.text(alphabet=st.sampled_from('sig1=()"@ ;:,-.*?0123456789abcdkeyidcreatdalgAZ+/\\\t'), max_size=120)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signature=st.one_of(header_text, sf_like), signature_input=st.one_of(st.none(), header_text, sf_like),
       digest=header_text, content_digest=st.one_of(header_text, sf_like), date=header_text,
       authorization=st.one_of(st.none(), header_text.map(lambda text: "Signature " + text)),
       method=st.sampled_from(["GET", "POST", "PUT"]), body=st.binary(max_size=64))
def test_arbitrary_headers_only_ever_raise_signature_error(signature, signature_input, digest, content_digest, date,
                                                           authorization, method, body):
    headers = {"Signature": signature, "Digest": digest, "Content-Digest": content_digest, "Host": "mayo.test",
               "Date": date}
    if signature_input is not None:
        headers["Signature-Input"] = signature_input
    if authorization is not None:
        headers["Authorization"] = authorization
    try:
        parsed = parse_signature(SignedRequest(method, URL, headers, body), now=NOW)
    except SignatureError as error:
        assert error.reason
    else:
        assert parsed.key_id and parsed.signing_base and parsed.signature


@settings(max_examples=60, deadline=None)
@given(scheme=st.sampled_from(sorted(SIGNERS)), body=st.binary(max_size=256),
       path=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~%", min_size=1, max_size=12),
                     max_size=4),
       query=st.one_of(st.none(), st.text(alphabet="abcxyz0123456789=&%+", max_size=20)),
       flip=st.integers(min_value=0))
def test_any_body_and_target_roundtrip_and_any_changed_byte_is_refused(scheme, body, path, query, flip):
    key = ed25519.Ed25519PrivateKey.generate()
    url = "https://mayo.test/" + "/".join(path) + (f"?{query}" if query is not None else "")
    headers = signed(scheme, key, url=url, body=body)
    assert accepted(received(headers, url=url, body=body), key).scheme == scheme
    if body:
        position = flip % len(body)
        changed = body[:position] + bytes([body[position] ^ 1]) + body[position + 1:]
        assert "does not match the body" in refusal(received(headers, url=url, body=changed))

"""HTTP signatures, both schemes the fediverse uses. Pure: no I/O.

- draft-cavage-http-signatures-12: `Signature` header, `Digest: SHA-256=…`;
  algorithms `rsa-sha256` and `hs2019` (the key decides: RSA PKCS#1 v1.5 SHA-256 or Ed25519).
- RFC 9421 HTTP Message Signatures: `Signature-Input` and `Signature` dictionaries,
  `Content-Digest: sha-256=:…:` (RFC 9530); algorithms `rsa-v1_5-sha256` and `ed25519`.

Verification is split in two so the key lookup stays outside: `parse_signature` checks
the request's shape (what is covered, the digest of the raw body, the time window) and
builds the signed bytes; `verify_signature` checks them against a public key. Every
refusal is a `SignatureError` whose `reason` says what is wrong.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes


class SignatureError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedRequest:
    method: str
    url: str  # absolute, as the sender addressed it
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class ParsedSignature:
    scheme: Literal["cavage", "rfc9421"]
    key_id: str
    algorithm: str | None
    signing_base: bytes
    signature: bytes
    created: datetime


CAVAGE_ALGORITHMS = frozenset({"rsa-sha256", "hs2019"})
RFC9421_ALGORITHMS = frozenset({"rsa-v1_5-sha256", "ed25519"})
_CAVAGE_PARAM = re.compile(r'\s*([a-zA-Z]+)\s*=\s*(?:"([^"]*)"|([0-9]+))\s*(?:,|$)')
_LABEL = re.compile(r"[a-z*][a-z0-9_\-.*]*")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    if value is None:
        lowered = name.lower()
        for key, item in headers.items():
            if key.lower() == lowered:
                return item
    return value


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]


def _path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def body_digest_header(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest_header(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        raise SignatureError(f"{what} is not valid base64") from None


def _check_time(created: datetime, now: datetime, max_age: timedelta, max_future: timedelta) -> None:
    if created < now - max_age:
        raise SignatureError("signature is too old (outside the accepted time window)")
    if created > now + max_future:
        raise SignatureError("signature is dated in the future")


def _check_digest_header(value: str | None, body: bytes) -> None:
    """`Digest: SHA-256=…` (several comma-separated digests allowed; SHA-256 must be one)."""
    if value is None:
        raise SignatureError("the Digest header is missing")
    expected = hashlib.sha256(body).digest()
    for part in value.split(","):
        algorithm, _, encoded = part.strip().partition("=")
        if algorithm.strip().lower() == "sha-256":
            if _b64(encoded.strip(), "Digest") != expected:
                raise SignatureError("the Digest does not match the body")
            return
    raise SignatureError("the Digest header has no SHA-256 digest")


def _check_content_digest(value: str | None, body: bytes) -> None:
    if value is None:
        raise SignatureError("the Content-Digest header is missing")
    expected = hashlib.sha256(body).digest()
    for member in _split_top_level(value):
        name, _, encoded = member.partition("=")
        if name.strip().lower() == "sha-256":
            encoded = encoded.strip()
            if len(encoded) < 2 or encoded[0] != ":" or encoded[-1] != ":":
                raise SignatureError("Content-Digest is malformed")
            if _b64(encoded[1:-1], "Content-Digest") != expected:
                raise SignatureError("the Content-Digest does not match the body")
            return
    raise SignatureError("the Content-Digest header has no sha-256 digest")


def _split_top_level(value: str) -> list[str]:
    """Split a structured-field dictionary at commas outside quotes and parentheses."""
    parts, current, depth, quoted, escaped = [], [], 0, False, False
    for char in value:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if quoted or depth:
        raise SignatureError("structured header is malformed")
    parts.append("".join(current).strip())
    return [part for part in parts if part]


# --- draft-cavage ---------------------------------------------------------------------------

def _parse_cavage(request: SignedRequest, value: str, now: datetime, max_age: timedelta,
                  max_future: timedelta) -> ParsedSignature:
    params: dict[str, str] = {}
    position = 0
    while position < len(value):
        match = _CAVAGE_PARAM.match(value, position)
        if match is None:
            raise SignatureError("the Signature header is malformed")
        params[match.group(1).lower()] = match.group(2) if match.group(2) is not None else match.group(3)
        position = match.end()
    key_id, signature = params.get("keyid"), params.get("signature")
    if not key_id or not signature:
        raise SignatureError("the Signature header needs keyId and signature")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in CAVAGE_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    covered = params.get("headers", "date").lower().split()
    method = request.method.upper()
    if "(request-target)" not in covered:
        raise SignatureError("the signature must cover (request-target)")
    if "host" not in covered:
        raise SignatureError("the signature must cover host")
    if "date" not in covered and "(created)" not in covered:
        raise SignatureError("the signature must cover date or (created)")
    if ("(created)" in covered or "(expires)" in covered) and algorithm == "rsa-sha256":
        raise SignatureError("(created) and (expires) cannot be used with rsa-sha256")
    if request.body or method == "POST":
        if "digest" not in covered:
            raise SignatureError("a POST's signature must cover the Digest header")
        _check_digest_header(_header(request.headers, "digest"), request.body)

    lines = []
    created: datetime | None = None
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {_path_and_query(request.url)}")
        elif name == "(created)":
            raw = params.get("created")
            if raw is None or not raw.isdigit():
                raise SignatureError("(created) is covered but the created parameter is missing")
            created = datetime.fromtimestamp(int(raw), tz=UTC)
            lines.append(f"(created): {raw}")
        elif name == "(expires)":
            raw = params.get("expires")
            if raw is None or not raw.isdigit():
                raise SignatureError("(expires) is covered but the expires parameter is missing")
            if datetime.fromtimestamp(int(raw), tz=UTC) < now:
                raise SignatureError("the signature has expired")
            lines.append(f"(expires): {raw}")
        else:
            header = _header(request.headers, name)
            if header is None:
                raise SignatureError(f"the signed header {name!r} is missing")
            if name == "host" and header.lower() != _host_of(request.url).lower():
                raise SignatureError("the signed Host is not this server")
            lines.append(f"{name}: {header.strip()}")
    if created is None:
        raw_date = _header(request.headers, "date")
        try:
            created = parsedate_to_datetime(raw_date or "")
        except (TypeError, ValueError):
            raise SignatureError("the Date header cannot be read") from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
    _check_time(created, now, max_age, max_future)
    return ParsedSignature(scheme="cavage", key_id=key_id, algorithm=algorithm,
                           signing_base="\n".join(lines).encode("utf-8"),
                           signature=_b64(signature, "signature"), created=created)


# --- RFC 9421 ------------------------------------------------------------------------------

def _parse_inner_list(text: str) -> tuple[list[str], dict[str, str | int], str]:
    """`("@method" "@target-uri");created=1;keyid="x"` → components, parameters, raw params text."""
    text = text.strip()
    if not text.startswith("("):
        raise SignatureError("Signature-Input is not an inner list")
    close = text.find(")")
    if close < 0:
        raise SignatureError("Signature-Input is malformed")
    components = re.findall(r'"([^"\\]*)"', text[1:close])
    inside = text[1:close].strip()
    if inside and " ".join(f'"{c}"' for c in components) != re.sub(r"\s+", " ", inside):
        raise SignatureError("Signature-Input components are malformed")
    raw_params = text[close + 1:]
    params: dict[str, str | int] = {}
    for match in re.finditer(r';\s*([a-z][a-z0-9_\-.*]*)(?:=(?:"((?:[^"\\]|\\.)*)"|(-?[0-9]+)|([A-Za-z*][^;]*)))?',
                             raw_params):
        name, quoted, number, token = match.groups()
        params[name] = quoted if quoted is not None else int(number) if number is not None else (token or "")
    return components, params, raw_params


def _component_value(name: str, request: SignedRequest) -> str:
    parts = urlsplit(request.url)
    if name == "@method":
        return request.method.upper()
    if name == "@target-uri":
        return request.url
    if name == "@authority":
        return parts.netloc.lower()
    if name == "@path":
        return parts.path or "/"
    if name == "@query":
        return f"?{parts.query}"
    if name == "@request-target":
        return _path_and_query(request.url)
    if name == "@scheme":
        return parts.scheme
    if name.startswith("@"):
        raise SignatureError(f"unsupported derived component {name!r}")
    value = _header(request.headers, name)
    if value is None:
        raise SignatureError(f"the signed header {name!r} is missing")
    return value.strip()


def _rfc9421_base(request: SignedRequest, components: list[str], raw_params: str) -> bytes:
    lines = [f'"{name}": {_component_value(name, request)}' for name in components]
    inner = " ".join(f'"{name}"' for name in components)
    lines.append(f'"@signature-params": ({inner}){raw_params}')
    return "\n".join(lines).encode("utf-8")


def _parse_rfc9421(request: SignedRequest, signature_input: str, now: datetime, max_age: timedelta,
                   max_future: timedelta) -> ParsedSignature:
    signature_header = _header(request.headers, "signature") or ""
    signatures: dict[str, bytes] = {}
    for member in _split_top_level(signature_header):
        label, _, value = member.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == ":" and value[-1] == ":":
            signatures[label.strip()] = _b64(value[1:-1], "signature")
    chosen = None
    for member in _split_top_level(signature_input):
        label, equals, value = member.partition("=")
        label = label.strip()
        if not equals or not _LABEL.fullmatch(label):
            raise SignatureError("Signature-Input is malformed")
        components, params, raw_params = _parse_inner_list(value)
        if isinstance(params.get("keyid"), str) and label in signatures:
            chosen = (label, components, params, raw_params)
            break
    if chosen is None:
        raise SignatureError("no usable signature (a labelled Signature with a keyid) was found")
    label, components, params, raw_params = chosen
    algorithm = params.get("alg")
    if algorithm is not None and algorithm not in RFC9421_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    covered = set(components)
    if "@method" not in covered:
        raise SignatureError("the signature must cover @method")
    if "@target-uri" not in covered and "@path" not in covered and "@request-target" not in covered:
        raise SignatureError("the signature must cover the target (@target-uri or @path)")
    if "@path" in covered and urlsplit(request.url).query and "@query" not in covered:
        raise SignatureError("the signature must cover @query when the URL has one")
    if "@target-uri" not in covered and "@authority" not in covered and "host" not in covered:
        raise SignatureError("the signature must cover the host (@authority or @target-uri)")
    if request.body or request.method.upper() == "POST":
        if "content-digest" not in covered:
            raise SignatureError("a POST's signature must cover Content-Digest")
        _check_content_digest(_header(request.headers, "content-digest"), request.body)
    created_raw = params.get("created")
    if not isinstance(created_raw, int):
        raise SignatureError("the signature needs a created parameter")
    created = datetime.fromtimestamp(created_raw, tz=UTC)
    expires = params.get("expires")
    if isinstance(expires, int) and datetime.fromtimestamp(expires, tz=UTC) < now:
        raise SignatureError("the signature has expired")
    _check_time(created, now, max_age, max_future)
    return ParsedSignature(scheme="rfc9421", key_id=str(params["keyid"]),
                           algorithm=algorithm if isinstance(algorithm, str) else None,
                           signing_base=_rfc9421_base(request, components, raw_params),
                           signature=signatures[label], created=created)


# --- the public API ------------------------------------------------------------------------

def parse_signature(request: SignedRequest, *, now: datetime, max_age: timedelta = timedelta(hours=1),
                    max_future: timedelta = timedelta(minutes=5)) -> ParsedSignature:
    signature_input = _header(request.headers, "signature-input")
    if signature_input:
        return _parse_rfc9421(request, signature_input, now, max_age, max_future)
    cavage = _header(request.headers, "signature")
    if not cavage:
        authorization = _header(request.headers, "authorization") or ""
        if authorization[:10].lower() == "signature ":
            cavage = authorization[10:]
    if not cavage:
        raise SignatureError("the request is not signed")
    return _parse_cavage(request, cavage, now, max_age, max_future)


def verify_signature(parsed: ParsedSignature, public_key: PublicKeyTypes) -> None:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if parsed.algorithm == "ed25519":
                raise SignatureError("the algorithm does not fit the key")
            public_key.verify(parsed.signature, parsed.signing_base, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            if parsed.algorithm in ("rsa-sha256", "rsa-v1_5-sha256"):
                raise SignatureError("the algorithm does not fit the key")
            public_key.verify(parsed.signature, parsed.signing_base)
        else:
            raise SignatureError("unsupported key type")
    except InvalidSignature:
        raise SignatureError("signature does not match the key") from None


def load_public_key_pem(pem: str) -> PublicKeyTypes:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        raise SignatureError("the public key cannot be read") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 1024:
            raise SignatureError("the RSA key is too short")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise SignatureError("only RSA and Ed25519 keys are supported")


def _sign(private_key: PrivateKeyTypes, data: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    raise TypeError("only RSA and Ed25519 keys can sign")


def sign_cavage(*, method: str, url: str, body: bytes | None, key_id: str, private_key: PrivateKeyTypes,
                now: datetime, extra_headers: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {"Host": _host_of(url), "Date": format_datetime(now.astimezone(UTC), usegmt=True)}
    headers.update(extra_headers or {})
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        headers["Digest"] = body_digest_header(body)
        covered.append("digest")
    lines = [f"(request-target): {method.lower()} {_path_and_query(url)}"]
    lines += [f"{name}: {headers[name.title()]}" for name in covered[1:]]
    signature = base64.b64encode(_sign(private_key, "\n".join(lines).encode("utf-8"))).decode("ascii")
    algorithm = "rsa-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "hs2019"
    headers["Signature"] = (f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(covered)}",'
                            f'signature="{signature}"')
    return headers


def sign_rfc9421(*, method: str, url: str, body: bytes | None, key_id: str, private_key: PrivateKeyTypes,
                 now: datetime, label: str = "sig1") -> dict[str, str]:
    headers: dict[str, str] = {}
    components = ["@method", "@target-uri"]
    if body is not None:
        headers["Content-Digest"] = content_digest_header(body)
        components.append("content-digest")
    algorithm = "rsa-v1_5-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "ed25519"
    raw_params = f';created={int(now.timestamp())};keyid="{key_id}";alg="{algorithm}"'
    request = SignedRequest(method, url, {"content-digest": headers.get("Content-Digest", "")}, body or b"")
    base = _rfc9421_base(request, components, raw_params)
    signature = base64.b64encode(_sign(private_key, base)).decode("ascii")
    inner = " ".join(f'"{name}"' for name in components)
    headers["Signature-Input"] = f"{label}=({inner}){raw_params}"
    headers["Signature"] = f"{label}=:{signature}:"
    return headers

"""HTTP signatures, both schemes the fediverse uses. Pure: no I/O.

- draft-cavage-http-signatures-12: a `Signature` header (or `Authorization: Signature …`) and
  `Digest: SHA-256=…`; algorithms `rsa-sha256` and `hs2019` (the key decides: RSA PKCS#1 v1.5
  SHA-256 or Ed25519); no `algorithm` parameter means hs2019.
- RFC 9421 HTTP Message Signatures: `Signature-Input` and `Signature` dictionaries and
  `Content-Digest: sha-256=:…:` (RFC 9530); algorithms `rsa-v1_5-sha256` and `ed25519`.

Verification is split in two so the key lookup stays with the caller: `parse_signature` checks
the request's shape (what is covered, the SHA-256 of the raw body, the time window) and builds
the bytes that were signed; `verify_signature` checks them against a public key the caller has
loaded (once, with `load_public_key_pem`) and cached.

Every refusal is a `SignatureError`; its `reason` is a short sentence saying what is wrong.
Misuse by our own code (a naive clock, a key type we cannot sign with, a key id that cannot be
written into a header) raises `ValueError` or `TypeError` instead: that is a bug, not a peer.

Header values are expected as an ASGI server hands them over (latin-1 decoded bytes), so the
signature base is encoded back as latin-1 to get the bytes that were on the wire.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Literal, NamedTuple, NoReturn, cast
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

CAVAGE_ALGORITHMS = frozenset({"rsa-sha256", "hs2019"})
RFC9421_ALGORITHMS = frozenset({"rsa-v1_5-sha256", "ed25519"})
MIN_RSA_BITS = 1024  # the fediverse still has 1024-bit keys from early Mastodon and Pleroma installs
_RSA_ONLY = frozenset({"rsa-sha256", "rsa-v1_5-sha256"})
_ED25519_ONLY = frozenset({"ed25519"})
_NEWLINE = "\n"


class SignatureError(Exception):
    """A request whose signature we refuse; `reason` says why, in a short sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedRequest:
    """What verification needs from an incoming request."""

    method: str  # "POST"
    url: str  # absolute, as the sender addressed it: "https://mayo.test/users/ann/inbox?x=1"
    headers: Mapping[str, str]  # names in any case; repeated fields may appear as repeated items
    body: bytes  # the raw bytes received, never re-serialised


@dataclass(frozen=True)
class ParsedSignature:
    """A signature whose shape is acceptable; `verify_signature` decides whether it is genuine."""

    scheme: Literal["cavage", "rfc9421"]
    key_id: str
    algorithm: str | None  # None: RFC 9421 without `alg`, the key decides
    signing_base: bytes  # exactly the bytes that were signed
    signature: bytes
    created: datetime  # UTC, from `created` or the Date header
    covered: tuple[str, ...] = ()  # the covered components, in the sender's order


# --- the request as signatures see it ----------------------------------------------------------


class _Target(NamedTuple):
    url: str
    scheme: str
    authority: str  # lowercased, without userinfo or the scheme's default port
    path: str  # "/" when empty
    query: str | None  # without "?"; None when the URL has none


_DEFAULT_PORTS = {"https": ":443", "http": ":80"}


def _authority(scheme: str, host_and_port: str) -> str:
    authority = host_and_port.lower()
    default = _DEFAULT_PORTS.get(scheme)
    return authority[: -len(default)] if default and authority.endswith(default) else authority


def _target_of(url: str) -> _Target:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise SignatureError("the request URL cannot be read") from None
    if not parts.scheme or not parts.netloc:
        raise SignatureError("the request URL is not absolute")
    scheme = parts.scheme.lower()
    return _Target(url=url, scheme=scheme, authority=_authority(scheme, parts.netloc.rpartition("@")[2]),
                   path=parts.path or "/", query=parts.query or None)


def _header_map(headers: Mapping[str, str]) -> dict[str, str]:
    """Lowercased names; each value trimmed; repeated fields joined with ", " (RFC 9421 §2.1, cavage §2.3)."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        value = value.strip(" \t")
        found[key] = f"{found[key]}, {value}" if key in found else value
    return found


def _signed_value(name: str, headers: dict[str, str]) -> str:
    value = headers.get(name)
    if value is None:
        raise SignatureError(f"the signed header {name!r} is missing")
    if "\n" in value or "\r" in value:
        raise SignatureError(f"the signed header {name!r} holds a line break")
    return value


def _encode_base(lines: list[str]) -> bytes:
    try:
        return _NEWLINE.join(lines).encode("latin-1")
    except UnicodeEncodeError:
        raise SignatureError("a signed value holds characters that cannot have come off the wire") from None


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not valid base64") from None


def _timestamp(value: int, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureError(f"{what} is out of range") from None


def _check_time(created: datetime, now: datetime, max_age: timedelta, max_future: timedelta) -> None:
    if created < now - max_age:
        raise SignatureError("the signature is too old (outside the accepted time window)")
    if created > now + max_future:
        raise SignatureError("the signature is dated in the future")


def _utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _has_body(request: SignedRequest) -> bool:
    # A POST always carries a (possibly empty) body whose digest must be signed.
    return bool(request.body) or request.method.upper() == "POST"


# --- digests of the raw body ------------------------------------------------------------------


def body_digest_header(body: bytes) -> str:
    """The cavage `Digest` value: `SHA-256=<base64>`."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest_header(body: bytes) -> str:
    """The RFC 9530 `Content-Digest` value: `sha-256=:<base64>:`."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def _compare_sha256(claimed: bytes, body: bytes, header: str) -> None:
    if len(claimed) != 32:
        raise SignatureError(f"the {header}'s SHA-256 value is not 32 bytes long")
    if claimed != hashlib.sha256(body).digest():
        raise SignatureError(f"the {header} does not match the body")


def _check_digest(value: str | None, body: bytes) -> None:
    """`Digest: SHA-256=…, SHA-512=…`: a SHA-256 entry must be there and match; other algorithms are ignored."""
    if value is None:
        raise SignatureError("the Digest header is missing")
    found = False
    for entry in value.split(","):
        algorithm, equals, encoded = entry.strip(" \t").partition("=")
        if not equals:
            raise SignatureError("the Digest header is malformed")
        if algorithm.lower() == "sha-256":
            _compare_sha256(_b64(encoded, "the Digest's SHA-256 value"), body, "Digest")
            found = True
    if not found:
        raise SignatureError("the Digest header has no SHA-256 digest")


def _check_content_digest(value: str | None, body: bytes) -> None:
    """`Content-Digest: sha-256=:…:` (RFC 9530): a structured dictionary, so names are lowercase."""
    if value is None:
        raise SignatureError("the Content-Digest header is missing")
    member = _StructuredField(value, "Content-Digest").dictionary().get("sha-256")
    if member is None:
        raise SignatureError("the Content-Digest header has no sha-256 digest")
    if not isinstance(member[0], bytes):
        raise SignatureError("the Content-Digest's sha-256 value is not a byte sequence")
    _compare_sha256(member[0], body, "Content-Digest")


# --- RFC 8941 structured fields: the subset signatures use --------------------------------------


class _Token(str):
    """An sf-token, kept apart from an sf-string so that it serialises back unquoted."""

    __slots__ = ()


_BareItem = int | str | bytes  # bool is an int; _Token is a str
_Params = dict[str, _BareItem]
_InnerList = list[tuple[_BareItem, _Params]]
_Member = tuple[_BareItem | _InnerList, _Params]

_SF_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_SF_PARAMETER = re.compile(r";[ ]*([a-z*][a-z0-9_\-.*]*)(=?)")
_SF_BARE_ITEM = re.compile(
    r'"(?P<string>[ !#-\[\]-~]*(?:\\["\\][ !#-\[\]-~]*)*)"'
    r"|:(?P<bytes>[A-Za-z0-9+/=]*):"
    r"|\?(?P<boolean>[01])"
    r"|(?P<integer>-?[0-9]{1,15})(?![0-9.])"
    r"|(?P<token>[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*)"
)
_SF_STRING_ESCAPE = re.compile(r'\\(["\\])')
_SF_OWS = re.compile(r"[ \t]*")
_SF_SP = re.compile(r" *")
_SF_EXPECTED = {'"': "a string of printable ASCII", ":": "a byte sequence in base64", "?": "?0 or ?1",
                "-": "an integer of at most 15 digits (decimals are not supported)"}


class _StructuredField:
    """A strict reader for RFC 8941 dictionaries, inner lists and parameters, with the bare items
    integer, string, token, byte sequence and boolean. Decimals are refused, and so are names
    given twice (the RFC lets the last one win; in a signature that ambiguity helps only an attacker)."""

    __slots__ = ("text", "pos", "what")

    def __init__(self, text: str, what: str) -> None:
        self.text = text.strip(" ")
        self.pos = 0
        self.what = what

    def fail(self, expected: str) -> NoReturn:
        raise SignatureError(f"the {self.what} header is malformed: expected {expected} at character {self.pos + 1}")

    def dictionary(self) -> dict[str, _Member]:
        text, end, members = self.text, len(self.text), {}
        while self.pos < end:
            match = _SF_KEY.match(text, self.pos)
            if match is None:
                self.fail("a lowercase key")
            key = match.group()
            if key in members:
                raise SignatureError(f"the {self.what} header names {key!r} twice")
            self.pos = match.end()
            value: _BareItem | _InnerList = True
            if text.startswith("=", self.pos):
                self.pos += 1
                value = self.inner_list() if text.startswith("(", self.pos) else self.bare_item()
            members[key] = (value, self.parameters() if text.startswith(";", self.pos) else {})
            self.pos = _SF_OWS.match(text, self.pos).end()
            if self.pos == end:
                break
            if text[self.pos] != ",":
                self.fail('","')
            self.pos = _SF_OWS.match(text, self.pos + 1).end()
            if self.pos == end:
                self.fail("a member after the comma")
        return members

    def inner_list(self) -> _InnerList:
        text, items = self.text, []
        self.pos += 1  # the "("
        while True:
            self.pos = _SF_SP.match(text, self.pos).end()
            if text.startswith(")", self.pos):
                self.pos += 1
                return items
            item = self.bare_item()
            items.append((item, self.parameters() if text.startswith(";", self.pos) else {}))
            if not text.startswith((" ", ")"), self.pos):
                self.fail('" " or ")"')

    def parameters(self) -> _Params:
        text, params = self.text, {}
        while text.startswith(";", self.pos):
            match = _SF_PARAMETER.match(text, self.pos)
            if match is None:
                self.pos = _SF_SP.match(text, self.pos + 1).end()
                self.fail("a lowercase key")
            key = match.group(1)
            if key in params:
                raise SignatureError(f"the {self.what} header gives the parameter {key!r} twice")
            self.pos = match.end()
            params[key] = self.bare_item() if match.group(2) else True
        return params

    def bare_item(self) -> _BareItem:
        match = _SF_BARE_ITEM.match(self.text, self.pos)
        if match is None:
            first = self.text[self.pos:self.pos + 1]
            self.fail(_SF_EXPECTED.get("-" if first.isdigit() else first, "an item"))
        kind, value = match.lastgroup, match.group(match.lastgroup or 0)
        if kind == "string":
            value = _SF_STRING_ESCAPE.sub(r"\1", value) if "\\" in value else value
        elif kind == "bytes":
            try:
                value = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                self.fail("base64 in the byte sequence")
        elif kind == "boolean":
            value = value == "1"
        elif kind == "integer":
            value = int(value)
        else:
            value = _Token(value)
        self.pos = match.end()
        return value


def _serialise_item(value: _BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, _Token):
        return value
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ":" + base64.b64encode(value).decode("ascii") + ":"


def _serialise_params(params: _Params) -> str:
    return "".join(f";{key}" if value is True else f";{key}={_serialise_item(value)}"
                   for key, value in params.items())


# --- draft-cavage -----------------------------------------------------------------------------

_CAVAGE_PARAM = re.compile(r'[ \t]*([A-Za-z]+)[ \t]*=[ \t]*(?:"([^"]*)"|([0-9]{1,15}))[ \t]*')
_CAVAGE_PSEUDO = frozenset({"(request-target)", "(created)", "(expires)"})


def _cavage_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    position = 0
    while True:
        match = _CAVAGE_PARAM.match(value, position)
        if match is None:
            raise SignatureError("the Signature header is malformed")
        name = match.group(1).lower()
        if name in params:
            raise SignatureError(f"the Signature header gives {name!r} twice")
        params[name] = match.group(2) if match.group(2) is not None else match.group(3)
        position = match.end()
        if position == len(value):
            return params
        if value[position] != ",":
            raise SignatureError("the Signature header is malformed")
        position += 1


def _cavage_time(params: dict[str, str], name: str) -> datetime:
    raw = params.get(name)
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 15:
        raise SignatureError(f"({name}) is covered but the {name} parameter is missing or not a number")
    return _timestamp(int(raw), f"the {name} parameter")


def _date_header(headers: dict[str, str]) -> datetime:
    raw = headers.get("date")
    if raw is None:
        raise SignatureError("the signed header 'date' is missing")
    try:
        date = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise SignatureError("the Date header cannot be read") from None
    if date is None:  # some Python versions return None instead of raising
        raise SignatureError("the Date header cannot be read")
    return date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)


def _parse_cavage(request: SignedRequest, value: str, headers: dict[str, str], now: datetime,
                  max_age: timedelta, max_future: timedelta) -> ParsedSignature:
    params = _cavage_params(value)
    key_id, encoded = params.get("keyid"), params.get("signature")
    if not key_id or not encoded:
        raise SignatureError("the Signature header needs keyId and signature")
    signature = _b64(encoded, "the signature")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in CAVAGE_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    # Draft-12 §2.1.6: without `headers` only (created) is covered, which the checks below refuse.
    covered = tuple(params.get("headers", "(created)").lower().split())
    if len(set(covered)) != len(covered):
        raise SignatureError("the Signature header covers a header twice")
    for name in covered:
        if name.startswith("(") and name not in _CAVAGE_PSEUDO:
            raise SignatureError(f"unsupported pseudo-header {name!r}")
    if "(request-target)" not in covered:
        raise SignatureError("the signature must cover (request-target)")
    if "host" not in covered:
        raise SignatureError("the signature must cover host")
    if "date" not in covered and "(created)" not in covered:
        raise SignatureError("the signature must cover date or (created)")
    if algorithm == "rsa-sha256" and ("(created)" in covered or "(expires)" in covered):
        # Draft-12 §2.3: (created) and (expires) are an error with rsa-*, hmac-* and ecdsa-* algorithms.
        raise SignatureError("(created) and (expires) cannot be used with rsa-sha256")
    if _has_body(request) and "digest" not in covered:
        raise SignatureError("a request with a body must cover the Digest header in its signature")

    created = _cavage_time(params, "created") if "(created)" in covered else _date_header(headers)
    _check_time(created, now, max_age, max_future)
    if "(created)" in covered and "date" in covered:
        _check_time(_date_header(headers), now, max_age, max_future)
    if "(expires)" in covered and _cavage_time(params, "expires") < now:
        raise SignatureError("the signature has expired")

    target = _target_of(request.url)
    if "digest" in covered:
        _check_digest(headers.get("digest"), request.body)
    lines = []
    for name in covered:
        if name == "(request-target)":
            query = f"?{target.query}" if target.query is not None else ""
            lines.append(f"(request-target): {request.method.lower()} {target.path}{query}")
        elif name in ("(created)", "(expires)"):
            lines.append(f"{name}: {params[name[1:-1]]}")
        else:
            header = _signed_value(name, headers)
            if name == "host" and ("@" in header or _authority(target.scheme, header) != target.authority):
                # The Host must be us, or a signature meant for another server could be replayed here.
                raise SignatureError("the signed Host is not this server")
            lines.append(f"{name}: {header}")
    return ParsedSignature(scheme="cavage", key_id=key_id, algorithm=algorithm, signing_base=_encode_base(lines),
                           signature=signature, created=created, covered=covered)


# --- RFC 9421 ---------------------------------------------------------------------------------

_DERIVED_COMPONENTS = frozenset({"@method", "@target-uri", "@authority", "@scheme", "@request-target",
                                 "@path", "@query"})
_FIELD_NAME = re.compile(r"[a-z0-9!#$%&'*+\-.^_`|~]+")
_SIGNATURE_PARAM_TYPES: dict[str, type] = {"created": int, "expires": int, "keyid": str, "alg": str,
                                           "nonce": str, "tag": str}


class _MessageSignature(NamedTuple):
    label: str
    components: tuple[str, ...]
    params: _Params
    signature: bytes


def _read_signature_input(headers: dict[str, str], label: str | None) -> _MessageSignature:
    """The labelled signature (or the first with a keyid), checked for shape only."""
    inputs = _StructuredField(headers["signature-input"], "Signature-Input").dictionary()
    if not inputs:
        raise SignatureError("the Signature-Input header names no signature")
    for name, (value, _) in inputs.items():
        if not isinstance(value, list):
            raise SignatureError(f"the Signature-Input member {name!r} is not an inner list")
    if label is None:
        label = next((name for name, (_, params) in inputs.items() if "keyid" in params), None)
        if label is None:
            raise SignatureError("no signature in Signature-Input has a keyid")
    elif label not in inputs:
        raise SignatureError(f"the Signature-Input header has no signature labelled {label!r}")
    items, params = cast(_InnerList, inputs[label][0]), inputs[label][1]  # every member is a list, see above
    for param, given in params.items():
        kind = _SIGNATURE_PARAM_TYPES.get(param)
        if kind is not None and (type(given) is not kind):  # bool and _Token are subclasses, and wrong here
            raise SignatureError(f"the Signature-Input parameter {param!r} has the wrong type")

    components = []
    for item, item_params in items:
        if not isinstance(item, str) or isinstance(item, _Token):
            raise SignatureError("a covered component is not a string")
        if item_params:
            raise SignatureError(f"component parameters are not supported ({item!r})")
        if item.startswith("@") and item not in _DERIVED_COMPONENTS:
            raise SignatureError(f"unsupported derived component {item!r}")
        if not item.startswith("@") and not _FIELD_NAME.fullmatch(item):
            raise SignatureError(f"the component {item!r} is not a lowercase field name")
        components.append(item)
    if len(set(components)) != len(components):
        raise SignatureError("the signature covers a component twice")  # RFC 9421 §2.5

    signature_header = headers.get("signature")
    if signature_header is None:
        raise SignatureError("Signature-Input is present but the Signature header is missing")
    signature = _StructuredField(signature_header, "Signature").dictionary().get(label)
    if signature is None:
        raise SignatureError(f"the Signature header has no signature labelled {label!r}")
    if not isinstance(signature[0], bytes) or not signature[0]:
        raise SignatureError(f"the signature labelled {label!r} is not a byte sequence")
    return _MessageSignature(label=label, components=tuple(components), params=params, signature=signature[0])


def _component_value(name: str, request: SignedRequest, target: _Target, headers: dict[str, str]) -> str:
    if name == "@method":
        return request.method
    if name == "@target-uri":
        return target.url
    if name == "@authority":
        return target.authority
    if name == "@scheme":
        return target.scheme
    if name == "@path":
        return target.path
    if name == "@query":
        return f"?{target.query}" if target.query is not None else "?"  # RFC 9421 §2.2.7: an absent query is "?"
    if name == "@request-target":
        return target.path + (f"?{target.query}" if target.query is not None else "")
    return _signed_value(name, headers)


def _signature_base(request: SignedRequest, target: _Target, headers: dict[str, str],
                    signed: _MessageSignature) -> bytes:
    """RFC 9421 §2.5: one `"name": value` line per component, then the `@signature-params` line."""
    lines = [f'"{name}": {_component_value(name, request, target, headers)}' for name in signed.components]
    inner = " ".join(f'"{name}"' for name in signed.components)
    lines.append(f'"@signature-params": ({inner}){_serialise_params(signed.params)}')
    return _encode_base(lines)


def rfc9421_signature_base(request: SignedRequest, label: str) -> bytes:
    """The RFC 9421 signature base for one label, with no policy checks at all.

    For interoperability debugging and known-answer tests; the inbox uses `parse_signature`.
    """
    headers = _header_map(request.headers)
    if "signature-input" not in headers:
        raise SignatureError("the request has no Signature-Input header")
    signed = _read_signature_input(headers, label)
    return _signature_base(request, _target_of(request.url), headers, signed)


def _parse_rfc9421(request: SignedRequest, headers: dict[str, str], now: datetime, max_age: timedelta,
                   max_future: timedelta) -> ParsedSignature:
    signed = _read_signature_input(headers, None)
    params, covered = signed.params, signed.components
    algorithm = params.get("alg")
    if algorithm is not None and algorithm not in RFC9421_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    target = _target_of(request.url)
    if "@method" not in covered:
        raise SignatureError("the signature must cover @method")
    if "@target-uri" not in covered and "@request-target" not in covered:
        if "@path" not in covered:
            raise SignatureError("the signature must cover the target (@target-uri, or @path and @query)")
        if target.query is not None and "@query" not in covered:
            raise SignatureError("the signature must cover @query when the URL has one")
    if "@target-uri" not in covered and "@authority" not in covered:
        raise SignatureError("the signature must cover the host (@authority or @target-uri)")
    if _has_body(request) and "content-digest" not in covered:
        raise SignatureError("a request with a body must cover Content-Digest in its signature")

    if "created" not in params:
        raise SignatureError("the signature has no created parameter")
    created = _timestamp(int(params["created"]), "the created parameter")
    _check_time(created, now, max_age, max_future)
    if "expires" in params and _timestamp(int(params["expires"]), "the expires parameter") < now:
        raise SignatureError("the signature has expired")

    if "content-digest" in covered:
        _check_content_digest(headers.get("content-digest"), request.body)
    return ParsedSignature(scheme="rfc9421", key_id=str(params["keyid"]),
                           algorithm=algorithm if isinstance(algorithm, str) else None,
                           signing_base=_signature_base(request, target, headers, signed),
                           signature=signed.signature, created=created, covered=covered)


# --- verification -----------------------------------------------------------------------------


def parse_signature(request: SignedRequest, *, now: datetime, max_age: timedelta = timedelta(hours=1),
                    max_future: timedelta = timedelta(minutes=5)) -> ParsedSignature:
    """Check the shape of a request's signature and build the bytes it signs; raise `SignatureError`.

    RFC 9421 is preferred when a `Signature-Input` header is present; there is no fallback to
    cavage then, so a broken RFC 9421 signature cannot be downgraded.
    """
    now = _utc(now)
    headers = _header_map(request.headers)
    if "signature-input" in headers:
        return _parse_rfc9421(request, headers, now, max_age, max_future)
    value = headers.get("signature")
    if value is None:
        authorization = headers.get("authorization", "")
        if authorization[:10].lower() == "signature ":  # draft-cavage §3.1 allows this header too
            value = authorization[10:]
    if not value:
        raise SignatureError("the request is not signed")
    return _parse_cavage(request, value, headers, now, max_age, max_future)


def verify_signature(parsed: ParsedSignature, public_key: PublicKeyTypes) -> None:
    """Check the signature against the key: RSA PKCS#1 v1.5 with SHA-256, or Ed25519."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if parsed.algorithm in _ED25519_ONLY:
                raise SignatureError(f"the algorithm {parsed.algorithm!r} does not fit an RSA key")
            if public_key.key_size < MIN_RSA_BITS:
                raise SignatureError("the RSA key is too short")
            public_key.verify(parsed.signature, parsed.signing_base, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            if parsed.algorithm in _RSA_ONLY:
                raise SignatureError(f"the algorithm {parsed.algorithm!r} does not fit an Ed25519 key")
            public_key.verify(parsed.signature, parsed.signing_base)
        else:
            raise SignatureError("only RSA and Ed25519 keys are supported")
    except InvalidSignature:
        raise SignatureError("signature does not match the key") from None


def load_public_key_pem(pem: str) -> PublicKeyTypes:
    """An RSA (at least 1024 bits) or Ed25519 public key from PEM; anything else is a `SignatureError`."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeEncodeError, AttributeError):
        raise SignatureError("the public key cannot be read") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise SignatureError("the RSA key is too short")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise SignatureError("only RSA and Ed25519 keys are supported")


# --- signing ----------------------------------------------------------------------------------


def _sign(private_key: PrivateKeyTypes, base: str) -> str:
    data = base.encode("ascii")  # our URLs and key ids are ASCII; anything else is a bug here
    if isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        signature = private_key.sign(data)
    else:
        raise TypeError("only RSA and Ed25519 keys can sign")
    return base64.b64encode(signature).decode("ascii")


def _check_key_id(key_id: str) -> None:
    if not key_id or not key_id.isascii() or not key_id.isprintable() or '"' in key_id or "\\" in key_id:
        raise ValueError(f"key id {key_id!r} cannot be written into a signature header")


def _target_to_sign(url: str) -> _Target:
    try:
        return _target_of(url)
    except SignatureError as error:
        raise ValueError(f"cannot sign a request to {url!r}: {error.reason}") from None


def sign_cavage(*, method: str, url: str, body: bytes | None, key_id: str, private_key: PrivateKeyTypes,
                now: datetime, extra_headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """Headers for a draft-cavage signed request: Host, Date, Digest (with a body), Signature.

    Covers `(request-target) host date` and `digest` with a body. `extra_headers` are added to
    the result unsigned, and may not replace the signed ones.
    """
    _check_key_id(key_id)
    target = _target_to_sign(url)
    headers = {"Host": target.authority, "Date": format_datetime(_utc(now), usegmt=True)}
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        headers["Digest"] = body_digest_header(body)
        covered.append("digest")
    query = f"?{target.query}" if target.query is not None else ""
    lines = [f"(request-target): {method.lower()} {target.path}{query}", f"host: {headers['Host']}",
             f"date: {headers['Date']}"]
    if body is not None:
        lines.append(f"digest: {headers['Digest']}")
    algorithm = "rsa-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "hs2019"
    signature = _sign(private_key, _NEWLINE.join(lines))
    headers["Signature"] = (f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(covered)}",'
                            f'signature="{signature}"')
    for name, value in (extra_headers or {}).items():
        if name.lower() in ("host", "date", "digest", "signature"):
            raise ValueError(f"extra_headers may not replace the signed header {name!r}")
        headers[name] = value
    return headers


def sign_rfc9421(*, method: str, url: str, body: bytes | None, key_id: str, private_key: PrivateKeyTypes,
                 now: datetime, label: str = "sig1") -> dict[str, str]:
    """Headers for an RFC 9421 signed request: Content-Digest (with a body), Signature-Input, Signature.

    Covers `@method @target-uri`, and `content-digest` with a body; parameters created, keyid, alg.
    """
    _check_key_id(key_id)
    _target_to_sign(url)
    if not _SF_KEY.fullmatch(label):
        raise ValueError(f"label {label!r} is not a structured-field key")
    headers: dict[str, str] = {}
    components = ["@method", "@target-uri"]
    # httpx sends the method upper-cased, and @method is compared as sent (RFC 9421 §2.2.1).
    lines = [f'"@method": {method.upper()}', f'"@target-uri": {url}']
    if body is not None:
        headers["Content-Digest"] = content_digest_header(body)
        components.append("content-digest")
        lines.append(f'"content-digest": {headers["Content-Digest"]}')
    algorithm = "rsa-v1_5-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "ed25519"
    inner = " ".join(f'"{name}"' for name in components)
    params = f'({inner});created={int(_utc(now).timestamp())};keyid="{key_id}";alg="{algorithm}"'
    lines.append(f'"@signature-params": {params}')
    headers["Signature-Input"] = f"{label}={params}"
    headers["Signature"] = f"{label}=:{_sign(private_key, _NEWLINE.join(lines))}:"
    return headers

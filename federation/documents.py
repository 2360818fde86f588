"""Parse untrusted ActivityStreams documents into frozen values. Pure: no I/O.

Documents in the standard context are read as plain JSON (full JSON-LD expansion costs
~3 ms a document and is kept off the hot path); terms from extension contexts we do not
use are ignored. Anything malformed raises `DocumentError` naming the field.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import idna

from federation.html import clean_html, clean_text
from federation.vocab import PUBLIC_FORMS

ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
NOTE_TYPES = frozenset({"Note", "Article", "Question", "Page"})
MAX_TAGS = 64
MAX_ATTACHMENTS = 16
MAX_RECIPIENTS = 10_000
MAX_PROFILE_FIELDS = 16  # Mastodon shows 4; other servers allow more; beyond this they are cut
MAX_FIELD_TEXT = 255  # a field name, as displayed
MAX_FIELD_SOURCE = 4096  # what is read of a name or value before cleaning


class DocumentError(ValueError):
    """An ActivityStreams document is missing a field or has one of the wrong shape."""


_HOST_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


def _ascii_host(hostname: str, uri: str) -> str:
    """The host as a connection would reach it: IDNA (UTS #46) to ASCII, lower case, no trailing dot.

    Without this, `bücher.test`, `ＢÜCHER.test` and `xn--bcher-kva.test` (or `a.test。evil` and
    `a.test.evil`) would be different hosts to origin and block checks yet the same host to httpx
    (checklist B12).
    """
    try:
        return ipaddress.ip_address(hostname).compressed
    except ValueError:
        pass
    host = hostname
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise DocumentError(f"{uri!r} does not have a valid host name") from None
    host = host.lower().rstrip(".")
    if not host or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise DocumentError(f"{uri!r} does not have a valid host name")
    return host


def host_of(uri: str) -> str:
    """Lower-cased ASCII `host[:port]` of an http(s) URL; DocumentError for anything else."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise DocumentError(f"{uri!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise DocumentError(f"{uri!r} is not an http(s) URL")
    host = _ascii_host(parts.hostname, uri)
    return f"{host}:{port}" if port else host


def same_origin(first: str, second: str) -> bool:
    try:
        return host_of(first) == host_of(second)
    except DocumentError:
        return False


def id_of(value: Any, field: str = "id") -> str:
    """An id given as a string or as an embedded object with an `id`."""
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise DocumentError(f"{field} must be a URL or an object with an id")
    host_of(value)
    return value


def optional_id(value: Any, field: str) -> str | None:
    return None if value is None else id_of(value, field)


def uri_list(value: Any, field: str) -> tuple[str, ...]:
    """`to`/`cc` and similar: a string, an object or a list of them."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_RECIPIENTS:
        raise DocumentError(f"{field} lists more than {MAX_RECIPIENTS} entries")
    uris = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("id") or item.get("href")
        if isinstance(item, str) and item:
            uris.append(item)
    return tuple(uris)


def _text(value: Any, field: str, *, limit: int = 100_000) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DocumentError(f"{field} must be text")
    return value[:limit]


def _url(value: Any) -> str | None:
    """`url` may be a string, a Link object, or a list of them; take the first http(s) one."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = item.get("href")
        if isinstance(item, str) and item.startswith(("https://", "http://")):
            return item
    return None


def _datetime(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DocumentError(f"{field} must be an ISO 8601 date-time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DocumentError(f"{field} is not an ISO 8601 date-time: {value[:40]!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bool(value: Any) -> bool:
    return value is True


def type_of(document: dict[str, Any]) -> str:
    kind = document.get("type")
    if isinstance(kind, list):  # JSON-LD allows several types; take the first we know of
        kind = next((k for k in kind if isinstance(k, str)), None)
    if not isinstance(kind, str) or not kind:
        raise DocumentError("type is missing")
    return kind


@dataclass(frozen=True)
class RemoteActorDocument:
    uri: str
    actor_type: str
    username: str
    display_name: str
    summary: str
    url: str | None
    inbox: str
    outbox: str | None
    shared_inbox: str | None
    followers: str | None
    following: str | None
    key_id: str
    public_key_pem: str
    locked: bool
    discoverable: bool
    indexable: bool
    fields: tuple[tuple[str, str], ...] = ()  # (name, sanitised HTML value) of each PropertyValue
    avatar: str | None = None  # the `icon` picture's URL
    header: str | None = None  # the `image` picture's URL

    @property
    def domain(self) -> str:
        return host_of(self.uri)


def parse_actor(document: dict[str, Any]) -> RemoteActorDocument:
    uri = id_of(document.get("id"))
    actor_type = type_of(document)
    if actor_type not in ACTOR_TYPES:
        raise DocumentError(f"{actor_type} is not an actor type")
    username = document.get("preferredUsername")
    if not isinstance(username, str) or not username or len(username) > 255:
        raise DocumentError("preferredUsername is missing")
    inbox = id_of(document.get("inbox"), "inbox")
    endpoints = document.get("endpoints") if isinstance(document.get("endpoints"), dict) else {}
    shared_inbox = optional_id(endpoints.get("sharedInbox"), "endpoints.sharedInbox")
    for field, value in (("inbox", inbox), ("sharedInbox", shared_inbox)):
        if value is not None and not same_origin(value, uri):
            raise DocumentError(f"{field} {value} is not on the actor's host")
    key_id, pem = _public_key(document.get("publicKey"), uri)
    return RemoteActorDocument(
        uri=uri,
        actor_type=actor_type,
        username=username,
        display_name=clean_text(_text(document.get("name"), "name"), limit=500),
        summary=clean_html(_text(document.get("summary"), "summary")),
        url=_url(document.get("url")),
        inbox=inbox,
        outbox=_optional_same_origin(document.get("outbox"), "outbox", uri),
        shared_inbox=shared_inbox,
        followers=_optional_same_origin(document.get("followers"), "followers", uri),
        following=_optional_same_origin(document.get("following"), "following", uri),
        key_id=key_id,
        public_key_pem=pem,
        locked=_bool(document.get("manuallyApprovesFollowers")),
        discoverable=_bool(document.get("discoverable")),
        indexable=_bool(document.get("indexable")),
        fields=_property_values(document.get("attachment")),
        avatar=_picture(document.get("icon")),
        header=_picture(document.get("image")),
    )


def _property_values(value: Any) -> tuple[tuple[str, str], ...]:
    """Mastodon's profile fields: `PropertyValue` attachments, cleaned, at most MAX_PROFILE_FIELDS."""
    found = []
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, dict) or item.get("type") != "PropertyValue":
            continue
        name, text = item.get("name"), item.get("value")
        if isinstance(name, str) and isinstance(text, str):
            found.append((clean_text(name[:MAX_FIELD_SOURCE], limit=MAX_FIELD_TEXT),
                          clean_html(text[:MAX_FIELD_SOURCE])))
        if len(found) == MAX_PROFILE_FIELDS:
            break
    return tuple(found)


def _picture(value: Any) -> str | None:
    """The URL of an `icon` or `image`: an Image object (or a list of them) or a bare URL."""
    for item in value if isinstance(value, list) else [value]:
        url = _url(item.get("url")) if isinstance(item, dict) else _url(item)
        if url is not None:
            return url[:2048]
    return None


def _optional_same_origin(value: Any, field: str, actor_uri: str) -> str | None:
    try:
        uri = optional_id(value, field)
    except DocumentError:
        return None
    return uri if uri is not None and same_origin(uri, actor_uri) else None


def _public_key(value: Any, actor_uri: str) -> tuple[str, str]:
    """The actor's RSA/Ed25519 key: its id must be on the actor's host and its owner the actor."""
    candidates = value if isinstance(value, list) else [value]
    for key in candidates:
        if not isinstance(key, dict):
            continue
        key_id, owner, pem = key.get("id"), key.get("owner"), key.get("publicKeyPem")
        if not (isinstance(key_id, str) and isinstance(pem, str)):
            continue
        if owner is not None and owner != actor_uri:
            raise DocumentError("publicKey.owner is not the actor")
        if not same_origin(key_id, actor_uri):
            raise DocumentError("publicKey.id is not on the actor's host")
        return key_id, pem
    raise DocumentError("publicKey is missing")


@dataclass(frozen=True)
class Attachment:
    url: str
    media_type: str
    description: str
    blurhash: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class NoteDocument:
    uri: str
    note_type: str
    attributed_to: str
    content: str
    summary: str
    sensitive: bool
    language: str | None
    url: str | None
    in_reply_to: str | None
    published: datetime | None
    updated: datetime | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    mentions: tuple[str, ...]
    hashtags: tuple[str, ...]
    attachments: tuple[Attachment, ...]

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc

    def named(self, followers_uri: str | None) -> tuple[str, ...]:
        """The mentions that name someone in earnest: all of a public or unlisted post's, and of
        a post beyond public reach only those it also addresses. A tag alone must not reach
        someone the addressing leaves out: it would show them the post and notify them."""
        if self.visibility(followers_uri) in ("public", "unlisted"):
            return self.mentions
        return tuple(uri for uri in self.mentions if uri in self.recipients)

    def visibility(self, followers_uri: str | None) -> str:
        """Mastodon's reading of the addressing: public, unlisted, private or direct."""
        if any(uri in PUBLIC_FORMS for uri in self.to):
            return "public"
        if any(uri in PUBLIC_FORMS for uri in self.cc):
            return "unlisted"
        if followers_uri is not None and followers_uri in self.recipients:
            return "private"
        return "direct"


def parse_note(document: dict[str, Any]) -> NoteDocument:
    uri = id_of(document.get("id"))
    note_type = type_of(document)
    if note_type not in NOTE_TYPES:
        raise DocumentError(f"{note_type} is not a kind of post")
    attributed = document.get("attributedTo")
    if isinstance(attributed, list):
        attributed = next((a for a in attributed if isinstance(a, (str, dict))), None)
    author = id_of(attributed, "attributedTo")
    content, language = _content(document)
    tags = document.get("tag") or []
    tags = tags if isinstance(tags, list) else [tags]
    mentions, hashtags = [], []
    for tag in tags[:MAX_TAGS]:
        if not isinstance(tag, dict):
            continue
        if tag.get("type") == "Mention" and isinstance(tag.get("href"), str):
            mentions.append(tag["href"])
        elif tag.get("type") == "Hashtag" and isinstance(tag.get("name"), str):
            name = tag["name"].lstrip("#").strip().lower()
            if name and len(name) <= 255:
                hashtags.append(name)
    attachments = document.get("attachment") or []
    attachments = attachments if isinstance(attachments, list) else [attachments]
    return NoteDocument(
        uri=uri,
        note_type=note_type,
        attributed_to=author,
        content=clean_html(content),
        summary=clean_text(_text(document.get("summary"), "summary")),
        sensitive=_bool(document.get("sensitive")) or bool(document.get("summary")),
        language=language,
        url=_url(document.get("url")),
        in_reply_to=optional_id(document.get("inReplyTo"), "inReplyTo"),
        published=_datetime(document.get("published"), "published"),
        updated=_datetime(document.get("updated"), "updated"),
        to=uri_list(document.get("to"), "to"),
        cc=uri_list(document.get("cc"), "cc"),
        mentions=tuple(dict.fromkeys(mentions)),
        hashtags=tuple(dict.fromkeys(hashtags)),
        attachments=tuple(a for a in map(_attachment, attachments[:MAX_ATTACHMENTS]) if a),
    )


def _content(document: dict[str, Any]) -> tuple[str, str | None]:
    content_map = document.get("contentMap")
    language = None
    if isinstance(content_map, dict) and content_map:
        language, mapped = next(iter(content_map.items()))
        language = language[:16] if isinstance(language, str) else None
        if "content" not in document and isinstance(mapped, str):
            return mapped, language
    return _text(document.get("content"), "content"), language


def _attachment(value: Any) -> Attachment | None:
    if not isinstance(value, dict):
        return None
    url = _url(value.get("url"))
    if url is None:
        return None
    width, height = value.get("width"), value.get("height")
    return Attachment(
        url=url,
        media_type=value.get("mediaType") if isinstance(value.get("mediaType"), str) else "",
        description=clean_text(_text(value.get("name"), "name"), limit=1500),
        blurhash=value.get("blurhash") if isinstance(value.get("blurhash"), str) else None,
        width=width if isinstance(width, int) and 0 < width < 100_000 else None,
        height=height if isinstance(height, int) and 0 < height < 100_000 else None,
    )


MAX_QUESTION_OPTIONS = 32  # more than any server offers; a longer list is cut, not refused


@dataclass(frozen=True)
class QuestionOption:
    title: str
    votes_count: int


@dataclass(frozen=True)
class QuestionDocument:
    """The poll part of a `Question` (Mastodon's shape: `oneOf`/`anyOf` of named Notes whose
    `replies.totalItems` is the count so far)."""

    multiple: bool
    options: tuple[QuestionOption, ...]
    expires_at: datetime | None
    voters_count: int | None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31 else 0


def parse_question(document: dict[str, Any]) -> QuestionDocument:
    multiple = isinstance(document.get("anyOf"), list)
    raw = document.get("anyOf" if multiple else "oneOf")
    if not isinstance(raw, list) or not raw:
        raise DocumentError("a Question needs oneOf or anyOf options")
    options = []
    for item in raw[:MAX_QUESTION_OPTIONS]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise DocumentError("each poll option must be an object with a name")
        replies = item.get("replies")
        votes = _count(replies.get("totalItems")) if isinstance(replies, dict) else 0
        # Plain text kept as sent: a vote names its option by this exact title.
        options.append(QuestionOption(title=item["name"].strip()[:255], votes_count=votes))
    # `closed` is a date-time when the poll ended (Mastodon), or `true` (some others).
    closed = document.get("closed")
    end = _datetime(closed, "closed") if isinstance(closed, str) else None
    end = end or _datetime(document.get("endTime"), "endTime")
    voters = document.get("votersCount")
    return QuestionDocument(multiple=multiple, options=tuple(options), expires_at=end,
                            voters_count=_count(voters) if voters is not None else None)


@dataclass(frozen=True)
class VoteDocument:
    """A vote: a Note with only a `name` (the option's title) answering the Question."""

    uri: str
    voter: str
    question: str
    choice: str


def parse_vote(document: dict[str, Any]) -> VoteDocument | None:
    """The vote a Note carries; None when the Note is an ordinary post."""
    name, in_reply_to = document.get("name"), document.get("inReplyTo")
    if type_of(document) != "Note" or not isinstance(name, str) or not name or in_reply_to is None:
        return None
    attributed = document.get("attributedTo")
    if isinstance(attributed, list):
        attributed = next((a for a in attributed if isinstance(a, (str, dict))), None)
    return VoteDocument(uri=id_of(document.get("id")), voter=id_of(attributed, "attributedTo"),
                        question=id_of(in_reply_to, "inReplyTo"), choice=name[:255])

"""ActivityStreams documents for local statuses and activities, and who they are addressed to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from federation.vocab import AS_CONTEXT, EXTENSIONS_CONTEXT, PUBLIC
from storage.tables import Actor, MediaAttachment, Poll, PollOption, Status

NOTE_CONTEXT = [AS_CONTEXT, EXTENSIONS_CONTEXT]
# Visibilities that never leave the instance, and those that go to followers only.
NEVER_FEDERATED = frozenset({"local"})


def iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def addressing(status: Status, author: Actor, mention_uris: list[str]) -> tuple[list[str], list[str]]:
    """Mastodon's `to`/`cc` for each visibility."""
    followers = [author.followers_uri] if author.followers_uri else []
    if status.visibility == "public":
        return [PUBLIC], followers + mention_uris
    if status.visibility == "unlisted":
        return followers, [PUBLIC] + mention_uris
    if status.visibility in ("private", "network"):
        return followers, mention_uris
    return mention_uris, []  # direct


def note_document(
    status: Status,
    author: Actor,
    *,
    mention_uris: list[str],
    hashtags: list[str],
    attachments: list[MediaAttachment],
    tag_url: str,
    with_context: bool = True,
    poll: tuple[Poll, Sequence[PollOption], datetime] | None = None,
) -> dict[str, Any]:
    """A Note, or with `poll` (the poll, its options in order, and now) a Question."""
    to, cc = addressing(status, author, mention_uris)
    note: dict[str, Any] = {
        "id": status.uri,
        "type": "Note",
        "attributedTo": author.uri,
        "content": status.content,
        "published": iso(status.created_at),
        "url": status.url or status.uri,
        "to": to,
        "cc": cc,
        "sensitive": status.sensitive,
        "summary": status.summary or None,
        "inReplyTo": status.in_reply_to_uri,
        "tag": [{"type": "Mention", "href": uri} for uri in mention_uris]
        + [{"type": "Hashtag", "name": f"#{name}", "href": tag_url.format(name=name)} for name in hashtags],
        "attachment": [
            {"type": "Document", "mediaType": media.media_type, "url": media.remote_url,
             "name": media.description or None, "blurhash": media.blurhash,
             "width": media.width, "height": media.height}
            for media in attachments
        ],
    }
    if status.language:
        note["contentMap"] = {status.language: status.content}
    if status.edited_at:
        note["updated"] = iso(status.edited_at)
    if poll is not None:
        note.update(question_fields(*poll))
    if with_context:
        note["@context"] = NOTE_CONTEXT
    return note


def question_fields(poll: Poll, options: Sequence[PollOption], now: datetime) -> dict[str, Any]:
    """What makes a Note a poll, as Mastodon writes it: the options under `oneOf` (one choice)
    or `anyOf` (several), each counting its votes in `replies.totalItems`."""
    fields: dict[str, Any] = {
        "type": "Question",
        "anyOf" if poll.multiple else "oneOf": [
            {"type": "Note", "name": option.title, "replies": {"type": "Collection", "totalItems": option.votes_count}}
            for option in options
        ],
        "votersCount": poll.voters_count,
    }
    if poll.expires_at is not None:
        fields["endTime"] = iso(poll.expires_at)
        if poll.expires_at <= now:
            fields["closed"] = iso(poll.expires_at)
    return fields


def activity(kind: str, activity_id: str, actor: Actor, obj: Any, *, to: list[str] | None = None,
             cc: list[str] | None = None, published=None) -> dict[str, Any]:
    document: dict[str, Any] = {"@context": NOTE_CONTEXT, "id": activity_id, "type": kind,
                                "actor": actor.uri, "object": obj}
    if to is not None:
        document["to"] = to
    if cc is not None:
        document["cc"] = cc
    if published is not None:
        document["published"] = iso(published)
    return document

"""ActivityStreams documents for local statuses and activities, and who they are addressed to."""

from __future__ import annotations

from typing import Any

from federation.vocab import AS_CONTEXT, EXTENSIONS_CONTEXT, PUBLIC
from storage.tables import Actor, MediaAttachment, Status

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
) -> dict[str, Any]:
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
    if with_context:
        note["@context"] = NOTE_CONTEXT
    return note


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

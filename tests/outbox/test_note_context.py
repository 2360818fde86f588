"""Every term our notes use is defined for JSON-LD readers (Fedify is one): an ActivityStreams
term, or one our own context maps. A term defined nowhere is silently dropped by them; Fedify
lost our hashtags and poll voter counts that way until the context named them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from outbox.documents import NOTE_CONTEXT, note_document
from storage.tables import Actor, MediaAttachment, Poll, PollOption, Status

# The ActivityStreams 2.0 terms a note of ours may use (https://www.w3.org/ns/activitystreams).
ACTIVITY_STREAMS = {
    "@context", "id", "type", "attributedTo", "content", "contentMap", "published", "updated", "url", "to", "cc",
    "summary", "inReplyTo", "tag", "attachment", "href", "name", "mediaType", "width", "height", "oneOf", "anyOf",
    "endTime", "closed", "replies", "totalItems", "Note", "Question", "Document", "Mention", "Collection",
}
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
AUTHOR = Actor(id=1, uri="https://mayo.test/users/ann", username="ann", username_key="ann",
               inbox_uri="https://mayo.test/users/ann/inbox", key_id="https://mayo.test/users/ann#main-key",
               followers_uri="https://mayo.test/users/ann/followers")


def terms(value: Any) -> set[str]:
    """The property names and type names used anywhere in a document, its @context aside (and
    the language tags that key a `contentMap`)."""
    if isinstance(value, list):
        return set().union(*map(terms, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    found = {key for key in value if key != "@context"}
    if isinstance(value.get("type"), str):
        found.add(value["type"])
    return found.union(*(terms(item) for key, item in value.items() if key != "@context" and not key.endswith("Map")))


def test_every_term_of_a_note_with_a_tag_a_picture_and_a_poll_is_defined():
    status = Status(id=7, uri="https://mayo.test/users/ann/statuses/7", actor_id=1, local=True, visibility="public",
                    content="<p>#cardiology</p>", summary="graphic", sensitive=True, language="en", created_at=NOW,
                    edited_at=NOW)
    picture = MediaAttachment(remote_url="https://mayo.test/system/media/x.png", media_type="image/png",
                              description="a chart", blurhash="U7M^z|]TfQ]T", width=64, height=48)
    poll = Poll(id=9, status_id=7, expires_at=NOW - timedelta(minutes=1), voters_count=1)
    options = [PollOption(poll_id=9, position=0, title="Mon", votes_count=1)]
    document = note_document(status, AUTHOR, mention_uris=["https://inova.test/users/bo"], hashtags=["cardiology"],
                             attachments=[picture], tag_url="https://mayo.test/tags/{name}", poll=(poll, options, NOW))
    ours = {term for entry in NOTE_CONTEXT if isinstance(entry, dict) for term in entry}
    assert {"Hashtag", "blurhash", "votersCount", "sensitive"} <= terms(document)
    assert terms(document) - ACTIVITY_STREAMS - ours == set()

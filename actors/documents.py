"""ActivityPub documents for local actors and their collections."""

from __future__ import annotations

from typing import Any

from federation.vocab import ACTOR_CONTEXT, AS_CONTEXT
from storage.tables import Actor


def actor_document(actor: Actor) -> dict[str, Any]:
    """The `Person` (or the instance's `Application`) document of a local actor."""
    document: dict[str, Any] = {
        "@context": ACTOR_CONTEXT,
        "id": actor.uri,
        "type": actor.actor_type,
        "preferredUsername": actor.username,
        "name": actor.display_name,
        "summary": actor.summary,
        "url": actor.url,
        "inbox": actor.inbox_uri,
        "outbox": actor.outbox_uri,
        "manuallyApprovesFollowers": actor.locked,
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
        "published": actor.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endpoints": {"sharedInbox": actor.shared_inbox_uri},
        "publicKey": {
            "id": actor.key_id,
            "owner": actor.uri,
            "publicKeyPem": actor.public_key_pem,
        },
    }
    if actor.actor_type != "Application":  # people have pinned posts; the instance actor has none
        document["featured"] = featured_uri(actor.uri)
    if actor.followers_uri:
        document["followers"] = actor.followers_uri
    if actor.following_uri:
        document["following"] = actor.following_uri
    if actor.avatar_url:
        document["icon"] = image_object(actor.avatar_url)
    if actor.header_url:
        document["image"] = image_object(actor.header_url)
    if actor.fields:
        document["attachment"] = [{"type": "PropertyValue", "name": field["name"], "value": field["value"]}
                                  for field in actor.fields]
    return document


def featured_uri(actor_uri: str) -> str:
    """A local actor's collection of pinned posts (Mastodon's `featured`)."""
    return f"{actor_uri}/collections/featured"


# Our stored pictures' extensions (`web.images`); Mastodon reads `mediaType` to pick a decoder.
IMAGE_MEDIA_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                     "gif": "image/gif"}


def image_object(url: str) -> dict[str, Any]:
    """An `Image` for a profile picture (`icon`) or header (`image`)."""
    image: dict[str, Any] = {"type": "Image", "url": url}
    media_type = IMAGE_MEDIA_TYPES.get(url.rsplit("/", 1)[-1].rpartition(".")[2].lower())
    if media_type:
        image["mediaType"] = media_type
    return image


def ordered_collection(collection_id: str, total: int, *, first: str | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": collection_id,
        "type": "OrderedCollection",
        "totalItems": total,
    }
    if first is not None:
        document["first"] = first
    return document


def ordered_collection_page(
    collection_id: str, page: int, items: list[Any], *, has_next: bool
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": f"{collection_id}?page={page}",
        "type": "OrderedCollectionPage",
        "partOf": collection_id,
        "orderedItems": items,
    }
    if has_next:
        document["next"] = f"{collection_id}?page={page + 1}"
    if page > 1:
        document["prev"] = f"{collection_id}?page={page - 1}"
    return document

"""MediaAttachment, the Tag inside a Status, and the Mention inside a Status."""

from __future__ import annotations

from typing import Any

from actors.urls import LocalUrls
from storage.tables import Actor, MediaAttachment
from web.api.entities.accounts import acct_of
from web.api.entities.formats import entity_id, tag_url
from web.images import PREVIEW, fitted_size


def media_kind(media_type: str) -> str:
    """Mastodon's attachment types from a MIME type (an animated GIF is still an image here)."""
    major = media_type.split("/", 1)[0].lower()
    return {"image": "image", "video": "video", "audio": "audio"}.get(major, "unknown")


def media_attachment(media: MediaAttachment) -> dict[str, Any]:
    """A local upload is served by us (`remote_url` holds its public URL, its preview sits
    beside it). Remote media stays on its server: `url` and `remote_url` both point there, so
    `url` is never null (Tusky and the Android app require it)."""
    meta: dict[str, Any] = {}
    if media.width and media.height:
        meta["original"] = _dimensions(media.width, media.height)
        if media.preview_file_name:
            meta["small"] = _dimensions(*fitted_size(media.width, media.height, PREVIEW))
    if media.focus_x is not None and media.focus_y is not None:
        meta["focus"] = {"x": media.focus_x, "y": media.focus_y}
    local = media.file_name is not None
    preview_url = media.remote_url
    if local and media.preview_file_name:
        preview_url = media.remote_url.rsplit("/", 1)[0] + "/" + media.preview_file_name
    return {
        "id": entity_id(media.id),
        "type": media_kind(media.media_type),
        "url": media.remote_url,
        "preview_url": preview_url,
        "remote_url": None if local else media.remote_url,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": media.description or None,
        "blurhash": media.blurhash,
    }


def _dimensions(width: int, height: int) -> dict[str, Any]:
    return {"width": width, "height": height, "size": f"{width}x{height}", "aspect": width / height}


def status_tag(name: str, urls: LocalUrls) -> dict[str, Any]:
    return {"name": name, "url": tag_url(urls, name)}


def status_mention(actor: Actor) -> dict[str, Any]:
    return {"id": entity_id(actor.id), "username": actor.username, "url": actor.url or actor.uri,
            "acct": acct_of(actor)}

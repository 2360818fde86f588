"""Instance (v2) and V1::Instance: the same facts in Mastodon's two layouts.

The version string is "4.2.0 (compatible; Rounds X.Y.Z)": clients parse the leading Mastodon
version to choose endpoints (Mastodon.py needs ≥ 4.0.0 for v2 search and media; the iOS app
reads the major number). `api_versions` stays at 1: the Android app switches to grouped
notifications at 2, which Rounds does not serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.urls import LocalUrls
from storage.tables import Actor, Status, User, utcnow
from web import __version__
from web.api.entities.accounts import account, load_accounts
from web.api.entities.formats import missing_header
from web.settings import Settings

MASTODON_VERSION = "4.2.0"
LANGUAGES = ["en"]

# Limits the client API enforces on writes, advertised so apps check before sending.
MAX_STATUS_CHARACTERS = 500
MAX_MEDIA_ATTACHMENTS = 4
CHARACTERS_RESERVED_PER_URL = 23
SUPPORTED_MIME_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
IMAGE_MATRIX_LIMIT = 33_177_600
DESCRIPTION_LIMIT = 1500
MAX_POLL_OPTIONS = 4
MAX_POLL_OPTION_CHARACTERS = 50
MIN_POLL_EXPIRATION = 300
MAX_POLL_EXPIRATION = 2_629_746
MAX_FEATURED_TAGS = 10
MAX_PINNED_STATUSES = 5
MAX_PROFILE_FIELDS = 4


def version_string() -> str:
    return f"{MASTODON_VERSION} (compatible; Rounds {__version__})"


def streaming_url(urls: LocalUrls) -> str:
    """Scheme and host only: clients append `/api/v1/streaming` themselves."""
    return urls.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


@dataclass(frozen=True)
class InstanceFacts:
    users: int
    active_month: int
    statuses: int
    domains: int
    contact: dict[str, Any] | None


async def load_instance_facts(session: AsyncSession, urls: LocalUrls) -> InstanceFacts:
    people = select(func.count()).select_from(User).where(User.approved, ~User.disabled)
    users = (await session.exec(people)).one()
    active = (await session.exec(people.where(User.last_active_at >= utcnow() - timedelta(days=30)))).one()
    statuses = (await session.exec(select(func.count()).select_from(Status).where(
        Status.local, Status.deleted_at.is_(None), Status.reblog_of_id.is_(None)))).one()  # type: ignore[union-attr]
    domains = (await session.exec(select(func.count(func.distinct(Actor.domain))).where(
        Actor.domain.is_not(None)))).one()  # type: ignore[union-attr]
    admin = (await session.exec(select(User.actor_id).where(
        User.role == "admin", User.approved, ~User.disabled).order_by(User.id).limit(1))).first()
    contact = None
    if admin is not None:
        batch = await load_accounts(session, [admin])
        contact = account(batch.actors[admin], batch, urls)
    return InstanceFacts(users=users, active_month=active, statuses=statuses, domains=domains, contact=contact)


def _statuses_configuration() -> dict[str, Any]:
    return {"max_characters": MAX_STATUS_CHARACTERS, "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
            "characters_reserved_per_url": CHARACTERS_RESERVED_PER_URL}


def _media_configuration() -> dict[str, Any]:
    # No video yet; the video limits are still sent because the iOS app decodes all seven keys.
    return {"supported_mime_types": SUPPORTED_MIME_TYPES, "description_limit": DESCRIPTION_LIMIT,
            "image_size_limit": IMAGE_SIZE_LIMIT, "image_matrix_limit": IMAGE_MATRIX_LIMIT,
            "video_size_limit": 0, "video_frame_rate_limit": 0, "video_matrix_limit": 0}


def _polls_configuration() -> dict[str, Any]:
    return {"max_options": MAX_POLL_OPTIONS, "max_characters_per_option": MAX_POLL_OPTION_CHARACTERS,
            "min_expiration": MIN_POLL_EXPIRATION, "max_expiration": MAX_POLL_EXPIRATION}


def _accounts_configuration() -> dict[str, Any]:
    return {"max_featured_tags": MAX_FEATURED_TAGS, "max_pinned_statuses": MAX_PINNED_STATUSES,
            "max_display_name_length": 30, "max_note_length": 500, "max_profile_fields": MAX_PROFILE_FIELDS,
            "profile_field_name_limit": 255, "profile_field_value_limit": 255}


def _description(settings: Settings) -> str:
    return f"{settings.instance_name}: a Rounds instance for patients, caregivers and hospital staff."


def instance_v2(settings: Settings, urls: LocalUrls, facts: InstanceFacts) -> dict[str, Any]:
    mode = settings.registrations
    return {
        "domain": urls.domain,
        "title": settings.instance_name,
        "version": version_string(),
        "source_url": f"{urls.base_url}/about",  # no public repository yet; required by apps
        "description": _description(settings),
        "usage": {"users": {"active_month": facts.active_month}},
        "thumbnail": {"url": missing_header(urls), "blurhash": None, "versions": {}},
        "icon": [],
        "languages": LANGUAGES,
        "configuration": {
            "urls": {"streaming": streaming_url(urls), "status": None, "about": f"{urls.base_url}/about",
                     "privacy_policy": None, "terms_of_service": None},
            "vapid": {"public_key": ""},
            "accounts": _accounts_configuration(),
            "statuses": _statuses_configuration(),
            "media_attachments": _media_configuration(),
            "polls": _polls_configuration(),
            "translation": {"enabled": False},
            "timelines_access": {
                "live_feeds": {"local": "public", "remote": "public"},
                "hashtag_feeds": {"local": "public", "remote": "public"},
                "trending_link_feeds": {"local": "public", "remote": "public"},
            },
            "limited_federation": settings.federation_mode != "open",
        },
        "registrations": {"enabled": mode != "closed", "approval_required": mode == "approval",
                          "reason_required": False, "message": None, "min_age": None, "url": None},
        "api_versions": {"mastodon": 1},
        "contact": {"email": "", "account": facts.contact},
        "rules": [],
    }


def instance_v1(settings: Settings, urls: LocalUrls, facts: InstanceFacts) -> dict[str, Any]:
    mode = settings.registrations
    return {
        "uri": urls.domain,  # the bare domain: toot keys its accounts by it
        "title": settings.instance_name,
        "short_description": _description(settings),
        "description": _description(settings),
        "email": "",
        "version": version_string(),
        "urls": {"streaming_api": streaming_url(urls)},
        "stats": {"user_count": facts.users, "status_count": facts.statuses, "domain_count": facts.domains},
        "thumbnail": missing_header(urls),
        "languages": LANGUAGES,
        "registrations": mode != "closed",
        "approval_required": mode == "approval",
        "invites_enabled": False,
        "configuration": {
            "accounts": _accounts_configuration(),
            "statuses": _statuses_configuration(),
            "media_attachments": _media_configuration(),
            "polls": _polls_configuration(),
        },
        "contact_account": facts.contact,
        "rules": [],
    }

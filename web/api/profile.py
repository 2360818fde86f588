"""`PATCH /api/v1/accounts/update_credentials`: the signed-in person edits their profile.

Multipart (pictures), form or JSON; `source[privacy]` may also come as JSON `{"source": {…}}`.
Every value is checked, and every picture redrawn, before anything is written: a refused
value is a 422 naming the field, with nothing changed. A change others can see (name, note,
pictures, locked, bot, discoverable, indexable) is sent to followers' and followees' servers as
an Update of the Person, in the same transaction.

`fields_attributes` replaces the profile fields (up to four name/value pairs, each at most
255 characters; a pair left blank is dropped), as a JSON list or object, or Rails' form keys
`fields_attributes[0][name]`; values get their links, and federate as `PropertyValue`
attachments. `source[sensitive]` marks new posts sensitive unless the app says otherwise.

Accepted and ignored, because nothing stores them yet: `attribution_domains`,
`avatar_description` and `header_description`. `bot` is the actor's type (`Service` or
`Person`), as in Mastodon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response

from storage.tables import Actor, User
from web.api.compose import to_html
from web.api.entities import credential_account
from web.api.media import Refused, multipart, picture_bytes, redrawn, refusing, text_value
from web.api.params import get, rails_bool
from web.auth import require_viewer
from web.context import context_of
from web.images import AVATAR, HEADER, Picture
from web.media import media_store
from web.oauth import request_params
from web.responses import JSONResponse
from web.signup import LOCALE_RE

MAX_DISPLAY_NAME = 30
MAX_NOTE = 500
MAX_LOCALE = 16  # the column's width
MAX_FIELDS = 4  # Mastodon's Account::DEFAULT_FIELDS_SIZE
MAX_FIELD_LENGTH = 255
FIELD_KEY = re.compile(r"^fields_attributes\[(\d{1,3})\]\[(name|value)\]$")
DEFAULT_PRIVACIES = ("public", "unlisted", "private", "local")  # Mastodon's three, and local-only
NETWORK_PRIVACY = "network"  # as a default too, on an instance in a network
# The profile flags a client may set, and the Actor column each one is.
FLAGS = {"locked": "locked", "discoverable": "discoverable", "indexable": "indexable",
         "hide_collections": "hide_collections"}
LABELS = {"display_name": "Display name", "note": "Note", "locked": "Locked", "bot": "Bot",
          "discoverable": "Discoverable", "indexable": "Indexable", "hide_collections": "Hide collections",
          "source[privacy]": "Privacy", "source[language]": "Language", "avatar": "Avatar", "header": "Header",
          "fields_attributes": "Fields", "source[sensitive]": "Sensitive"}


@dataclass
class ProfileChange:
    """What the request asks to change; None (or absent) means "leave as it is"."""

    display_name: str | None = None
    note_html: str | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    bot: bool | None = None
    privacy: str | None = None
    language: str | None = None
    sensitive: bool | None = None
    fields: list[dict[str, str]] | None = None  # [{"name": text, "value": HTML}]
    avatar: Picture | None = None
    header: Picture | None = None


def _source(params: dict[str, Any], name: str) -> Any:
    """`source[name]` from a form, or `{"source": {"name": …}}` from JSON."""
    nested = params.get("source")
    if isinstance(nested, dict) and name in nested:
        return nested[name]
    return params.get(f"source[{name}]")


def _flag(value: Any, name: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        return rails_bool(value.strip(), default=False)
    raise Refused(name, "invalid", "must be true or false", LABELS[name])


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    text = text_value(value)
    if text is None:
        raise Refused(name, "invalid", "must be text", LABELS[name])
    return text


def _field_entries(params: dict[str, Any]) -> dict[int, Any] | None:
    """The submitted fields by position, from JSON (a list, or an object keyed "0", "1" …) or
    from form keys; None when the request does not touch the fields."""
    raw = params.get("fields_attributes")
    entries: dict[int, Any] = {}
    if isinstance(raw, list):
        entries = dict(enumerate(raw))
    elif isinstance(raw, dict):
        entries = {int(key): value for key, value in raw.items() if str(key).isdigit() and len(str(key)) <= 3}
    elif raw is not None:
        raise Refused("fields_attributes", "invalid", "must be a list of names and values", LABELS["fields_attributes"])
    for key, value in params.items():
        if matched := FIELD_KEY.match(key):
            entry = entries.setdefault(int(matched[1]), {})
            if isinstance(entry, dict):
                entry[matched[2]] = value
    return entries if entries or raw is not None else None


def _fields(params: dict[str, Any], base_url: str) -> list[dict[str, str]] | None:
    entries = _field_entries(params)
    if entries is None:
        return None
    fields = []
    for position in sorted(entries):
        entry = entries[position]
        if not isinstance(entry, dict):
            raise Refused("fields_attributes", "invalid", "must be a list of names and values",
                          LABELS["fields_attributes"])
        name = " ".join((_text(entry.get("name"), "fields_attributes") or "").split())
        value = " ".join((_text(entry.get("value"), "fields_attributes") or "").split())
        if not name and not value:
            continue
        if len(name) > MAX_FIELD_LENGTH or len(value) > MAX_FIELD_LENGTH:
            raise Refused("fields_attributes", "too_long",
                          f"is too long (maximum is {MAX_FIELD_LENGTH} characters)", LABELS["fields_attributes"])
        fields.append({"name": name, "value": to_html(value, base_url).removeprefix("<p>").removesuffix("</p>")})
    if len(fields) > MAX_FIELDS:
        raise Refused("fields_attributes", "too_long", f"is too long (maximum is {MAX_FIELDS} fields)",
                      LABELS["fields_attributes"])
    return fields


def _read(params: dict[str, Any], base_url: str, *, in_network: bool = False) -> ProfileChange:
    change = ProfileChange()
    display_name = _text(params.get("display_name"), "display_name")
    if display_name is not None:
        display_name = " ".join(display_name.split())  # no line breaks or tabs in a name
        if len(display_name) > MAX_DISPLAY_NAME:
            raise Refused("display_name", "too_long",
                          f"is too long (maximum is {MAX_DISPLAY_NAME} characters)", LABELS["display_name"])
        change.display_name = display_name
    note = _text(params.get("note"), "note")
    if note is not None:
        if len(note.strip()) > MAX_NOTE:
            raise Refused("note", "too_long", f"is too long (maximum is {MAX_NOTE} characters)", LABELS["note"])
        change.note_html = to_html(note, base_url)  # escaped text, links and hashtags: safe HTML
    for name, column in FLAGS.items():
        value = _flag(params.get(name), name)
        if value is not None:
            change.flags[column] = value
    change.bot = _flag(params.get("bot"), "bot")
    privacy = _text(_source(params, "privacy"), "source[privacy]")
    if privacy is not None and privacy.strip():
        if privacy.strip() not in DEFAULT_PRIVACIES and not (in_network and privacy.strip() == NETWORK_PRIVACY):
            raise Refused("source[privacy]", "inclusion", "is not included in the list", LABELS["source[privacy]"])
        change.privacy = privacy.strip()
    language = _text(_source(params, "language"), "source[language]")
    if language is not None and language.strip():  # "" is Mastodon's "no default language": keep ours
        language = language.strip()
        if len(language) > MAX_LOCALE or not LOCALE_RE.match(language):
            raise Refused("source[language]", "inclusion", "is not a known language code",
                          LABELS["source[language]"])
        change.language = language
    change.sensitive = _flag(_source(params, "sensitive"), "source[sensitive]")
    change.fields = _fields(params, base_url)
    return change


def _apply(change: ProfileChange, actor: Actor, user: User, urls: dict[str, str]) -> bool:
    """Write `change` onto the rows; True when something other servers show has changed."""
    before = (actor.display_name, actor.summary, actor.avatar_url, actor.header_url, actor.locked,
              actor.discoverable, actor.indexable, actor.actor_type, actor.fields)
    if change.display_name is not None:
        actor.display_name = change.display_name
    if change.note_html is not None:
        actor.summary = change.note_html
    for column, value in change.flags.items():
        setattr(actor, column, value)
    if change.bot is not None and actor.actor_type in ("Person", "Service"):
        actor.actor_type = "Service" if change.bot else "Person"
    if "avatar" in urls:
        actor.avatar_url = urls["avatar"]
    if "header" in urls:
        actor.header_url = urls["header"]
    if change.privacy is not None:
        user.default_visibility = change.privacy
    if change.language is not None:
        user.locale = change.language
    if change.sensitive is not None:
        user.sensitive_by_default = change.sensitive
    if change.fields is not None:
        actor.fields = change.fields  # a new list: the JSON column sees the change
    after = (actor.display_name, actor.summary, actor.avatar_url, actor.header_url, actor.locked,
             actor.discoverable, actor.indexable, actor.actor_type, actor.fields)
    return before != after


@refusing
async def update_credentials(request: Request) -> Response:
    viewer = await require_viewer(request, "write:accounts")
    ctx = context_of(request)
    params = await request_params(request)
    files = await multipart(request)
    change = _read(params, ctx.urls.base_url, in_network=ctx.network is not None)
    for name, box in (("avatar", AVATAR), ("header", HEADER)):
        if name in files and not isinstance(files[name], str):
            data = await picture_bytes(files[name], name, LABELS[name])
            setattr(change, name, await redrawn(data, box, name, LABELS[name]))
    store = media_store(request)
    pictures = {name: picture for name in ("avatar", "header")
                if (picture := getattr(change, name)) is not None}
    written = await store.write(*(picture.original for picture in pictures.values())) if pictures else []
    names = dict(zip(pictures, written, strict=True))
    replaced: list[str | None] = []
    try:
        async with ctx.database.transaction() as session:
            actor = (await session.exec(select(Actor).where(Actor.id == viewer.actor.id))).one()
            user = (await session.exec(select(User).where(User.id == viewer.user.id))).one()
            replaced = [store.name_of(getattr(actor, f"{name}_url")) for name in names]
            if _apply(change, actor, user, {name: store.url(file) for name, file in names.items()}):
                await request.app.state.federation.outbox.update_profile(session, actor)
            session.add_all([actor, user])
            await session.flush()
            entity = await credential_account(session, actor, user, ctx.urls)
    except BaseException:
        await store.remove(*names.values())
        raise
    await store.remove(*replaced)  # the pictures these replaced are no longer shown anywhere
    return JSONResponse(entity)


# Mastodon routes PATCH; PUT is taken too, as some clients send it.
routes = get("/api/v1/accounts/update_credentials", update_credentials, methods=("PATCH", "PUT"))

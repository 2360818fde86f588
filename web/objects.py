"""ActivityPub GETs of local posts, with authorized fetch for the non-public ones.

Followers-only, network-only and direct posts are served only to a signed GET from a
server hosting someone addressed; anyone else gets 404, never 403, so that a post's
existence is not confirmed.
"""

from __future__ import annotations

from sqlmodel import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import is_local_person
from actors.remote import ActorUnavailable
from actors.visibility import PUBLICLY_SERVED, remote_server_may_see
from federation.documents import DocumentError, host_of
from federation.httpsig import SignatureError, SignedRequest, parse_signature, verify_signature
from moderation.policy import host_of_domain
from outbox.documents import activity, note_document
from storage.combined import combined
from storage.tables import Actor, MediaAttachment, Mention, Status, StatusTag
from web.context import context_of
from web.responses import ActivityJSONResponse

NOT_FOUND = "no such post here"


async def refuse_suspended_signer(request: Request) -> None:
    """403 for a signed GET whose key lives on a domain this instance suspended. Only the keyId's
    host is read: a forged claim to be a suspended server only gets the forger refused, so the
    signature need not be checked. (Servers outside the network or allowlist are answered as
    anyone unsigned is.)"""
    header = request.headers.get("signature") or request.headers.get("signature-input")
    if not header:
        return
    ctx = context_of(request)
    federation = request.app.state.federation
    target = ctx.urls.base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        parsed = parse_signature(SignedRequest("GET", target, request.headers, b""), now=federation.clock())
        domain = host_of(parsed.key_id)
    except (SignatureError, DocumentError):
        return
    if (await federation.policy.load(ctx.database)).suspended(domain):
        raise HTTPException(403, f"{host_of_domain(domain)} is suspended by this instance")


async def _signer_domain(request: Request) -> str | None:
    """The host of a verified signed GET's actor, or None for unsigned or bad signatures."""
    if "signature" not in request.headers and "signature-input" not in request.headers:
        return None
    ctx = context_of(request)
    federation = request.app.state.federation
    target = ctx.urls.base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        parsed = parse_signature(SignedRequest("GET", target, request.headers, b""), now=federation.clock())
        key = await federation.actors.key(parsed.key_id)
        verify_signature(parsed, key.key)
    except (SignatureError, ActorUnavailable):
        return None
    async with ctx.database.session() as session:
        signer = await session.get(Actor, key.actor_id)
    return signer.domain if signer else None


async def _status_or_404(request: Request) -> tuple[Status, Actor]:
    ctx = context_of(request)
    raw_id = request.path_params["status_id"]
    if not raw_id.isdigit():
        raise HTTPException(404, NOT_FOUND)
    async with ctx.database.session() as session:
        found = (await session.exec(select(Status, Actor).join(Actor, Actor.id == Status.actor_id).where(
            Status.id == int(raw_id), is_local_person(request.path_params["username"])))).first()
    if found is None or found[0].reblog_of_id:
        raise HTTPException(404, NOT_FOUND)
    status, author = found
    if status.deleted_at is not None or status.visibility == "local":
        raise HTTPException(404, NOT_FOUND)
    await refuse_suspended_signer(request)
    if status.visibility not in PUBLICLY_SERVED:
        domain = await _signer_domain(request)
        rules = await request.app.state.federation.policy.load(ctx.database)
        allowed = domain is not None and rules.allows(domain)
        if allowed:
            member = bool(ctx.network and ctx.network.is_member(domain))
            async with ctx.database.session() as session:
                allowed = await remote_server_may_see(session, status, author, domain, network_member=member)
        if not allowed:
            raise HTTPException(404, NOT_FOUND)
    return status, author


async def _note(request: Request, status: Status, author: Actor, *, with_context: bool = True) -> dict:
    ctx = context_of(request)
    async with ctx.database.session() as session:
        named = await combined(session, {
            "mentions": select(Mention.actor_uri).where(Mention.status_id == status.id),
            "tags": select(StatusTag.name).where(StatusTag.status_id == status.id),
        })
        media = (await session.exec(select(MediaAttachment).where(MediaAttachment.status_id == status.id)
                                    .order_by(MediaAttachment.position, MediaAttachment.id))).all()
    return note_document(status, author, mention_uris=[uri for uri, in named["mentions"]],
                         hashtags=[name for name, in named["tags"]],
                         attachments=list(media), tag_url=f"{ctx.urls.base_url}/tags/{{name}}",
                         with_context=with_context)


async def note(request: Request) -> Response:
    status, author = await _status_or_404(request)
    return ActivityJSONResponse(await _note(request, status, author))


async def create_activity(request: Request) -> Response:
    status, author = await _status_or_404(request)
    obj = await _note(request, status, author, with_context=False)
    return ActivityJSONResponse(activity("Create", f"{status.uri}/activity", author, obj,
                                         to=obj["to"], cc=obj["cc"], published=status.created_at))


routes = [
    Route("/users/{username}/statuses/{status_id}", note),
    Route("/users/{username}/statuses/{status_id}/activity", create_activity),
]

"""`GET /blocklist`: this instance's domain blocks, published to the other members of its network.

Served only to a signed GET (authorized fetch) whose key belongs to an actor of a member
instance, usually its instance actor: unsigned or unverifiable → 401, anyone else → 403. Members
subscribe to it (`moderation.blocklists`).

What is published: the blocks this instance's admins made (not those that came from lists it
subscribes to, so that two members following each other cannot keep a lifted block alive between
them), with the public comment and the flags, never the private comment. An obfuscated block is
listed by its real domain, since a member needs it to enforce the block; `obfuscate` travels with
it so that the member hides the domain from its own public pages too.

The document names itself by its URL and is served as ActivityStreams JSON, so a subscriber
fetches it like any other signed document (same-origin id, bounded size):

    {"@context": "https://www.w3.org/ns/activitystreams", "id": "https://mayo.example/blocklist",
     "type": "Collection", "attributedTo": "https://mayo.example/actor", "totalItems": 1,
     "items": [{"domain": "spam.example", "severity": "suspend", "reject_media": true,
                "reject_reports": true, "public_comment": "Spam", "obfuscate": false}]}
"""

from __future__ import annotations

from sqlmodel import col, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.remote import ActorUnavailable
from federation.httpsig import SignatureError, SignedRequest, parse_signature, verify_signature
from federation.vocab import AS_CONTEXT
from moderation.blocklists import ENTRY_FIELDS
from storage.tables import Actor, DomainBlock
from web.context import context_of
from web.responses import ActivityJSONResponse

PATH = "/blocklist"
UNSIGNED = "The blocklist is served only to signed requests from member instances of this network"
NOT_MEMBER = "The blocklist is served only to member instances of this network"


async def _signer_domain(request: Request) -> str | None:
    """The domain of the verified signer's actor (None for one of ours); HTTPException 401 when the
    request is unsigned or its signature cannot be verified."""
    if "signature" not in request.headers and "signature-input" not in request.headers:
        raise HTTPException(401, UNSIGNED)
    ctx = context_of(request)
    federation = request.app.state.federation
    target = ctx.urls.base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        parsed = parse_signature(SignedRequest("GET", target, request.headers, b""), now=federation.clock())
        key = await federation.actors.key(parsed.key_id)
        verify_signature(parsed, key.key)
    except (SignatureError, ActorUnavailable) as error:
        raise HTTPException(401, f"The signature could not be verified: {error}") from None
    async with ctx.database.session() as session:
        signer = await session.get(Actor, key.actor_id)
    return signer.domain if signer else None


async def blocklist(request: Request) -> Response:
    ctx = context_of(request)
    domain = await _signer_domain(request)
    if domain is None or ctx.network is None or not ctx.network.is_member(domain):
        raise HTTPException(403, NOT_MEMBER)
    async with ctx.database.session() as session:
        blocks = (await session.exec(select(DomainBlock).where(col(DomainBlock.subscription_id).is_(None))
                                     .order_by(col(DomainBlock.domain)))).all()
    items = [{"domain": block.domain, **{name: getattr(block, name) for name in ENTRY_FIELDS}} for block in blocks]
    document = {"@context": AS_CONTEXT, "id": ctx.urls.base_url + PATH, "type": "Collection",
                "attributedTo": ctx.urls.instance_actor, "totalItems": len(items), "items": items}
    # Private to the signer: never kept by a shared cache.
    return ActivityJSONResponse(document, headers={"Cache-Control": "private, no-store", "Vary": "Signature"})


routes = [Route(PATH, blocklist)]

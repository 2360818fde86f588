"""Local actions and peer deliveries that flow tests take on in-process instances."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from federation.httpsig import sign_cavage
from storage.tables import Follow, InboxItem, LocalKey, Status
from tests.support.network import Node


async def follow(node: Node, username: str, target_uri: str) -> None:
    follower = await node.local(username)
    target = await node.remote(target_uri)
    async with node.ctx.database.transaction() as session:
        await node.federation.outbox.send_follow(session, follower, target)


async def unfollow(node: Node, username: str, target_uri: str) -> None:
    follower = await node.local(username)
    target = await node.remote(target_uri)
    async with node.ctx.database.transaction() as session:
        await node.federation.outbox.send_unfollow(session, follower, target)


async def approve(node: Node, username: str, follower_uri: str) -> None:
    followee = await node.local(username)
    async with node.ctx.database.transaction() as session:
        follower = await node.federation.actors.find(session, follower_uri)
        follow_row = (await session.exec(select(Follow).where(
            Follow.follower_id == follower.id, Follow.followee_id == followee.id))).one()
        await node.federation.outbox.accept_follow(session, follow_row, followee, follower)


async def post(node: Node, username: str, text: str, visibility: str, *, reply_to: str | None = None,
               mentions: tuple[str, ...] = ()) -> Status:
    author = await node.local(username)
    mentioned = [await node.remote(uri) for uri in mentions]
    async with node.ctx.database.transaction() as session:
        parent = None
        if reply_to:
            parent = (await session.exec(select(Status).where(Status.uri == reply_to))).one()
        return await node.federation.outbox.post_status(
            session, author, content_html=f"<p>{text}</p>", visibility=visibility,
            in_reply_to=parent, mentions=mentioned)


async def status_on(node: Node, uri: str) -> Status | None:
    async with node.ctx.database.session() as session:
        return (await session.exec(select(Status).where(Status.uri == uri))).first()


async def follow_state(node: Node, follower_uri: str, followee_uri: str) -> str | None:
    async with node.ctx.database.session() as session:
        follower = await node.federation.actors.find(session, follower_uri)
        followee = await node.federation.actors.find(session, followee_uri)
        if follower is None or followee is None:
            return None
        row = (await session.exec(select(Follow).where(
            Follow.follower_id == follower.id, Follow.followee_id == followee.id))).first()
    return row.state if row else None


async def signed_post(sender: Node, username: str, inbox_url: str, body: bytes,
                      content_type: str = "application/activity+json", tamper: bool = False,
                      private_key: Any = None) -> int:
    """POST `body` signed (draft-cavage) as `username`, with their stored key unless one is given."""
    actor = await sender.local(username)
    key = private_key
    if key is None:
        async with sender.ctx.database.session() as session:
            sealed = await session.get(LocalKey, actor.id)
        key = sender.ctx.keyring.open(actor.id, sealed.private_key_encrypted)
    headers = sign_cavage(method="POST", url=inbox_url, body=body, key_id=actor.key_id, private_key=key,
                          now=sender.federation.clock())
    headers["Content-Type"] = content_type
    if tamper:
        body = body.replace(b"hello", b"HELLO")
    response = await sender.federation.client.post(inbox_url, content=body, headers=headers)
    return response.status_code


async def inbox_rows(node: Node) -> int:
    async with node.ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(InboxItem))).one()


def create_note(actor_uri: str, note_id: str, text: str = "hello", **overrides) -> bytes:
    note = {"id": note_id, "type": "Note", "attributedTo": actor_uri, "content": text,
            "to": ["https://www.w3.org/ns/activitystreams#Public"]} | overrides
    return json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "id": note_id + "/activity",
                       "type": "Create", "actor": actor_uri, "object": note}).encode()

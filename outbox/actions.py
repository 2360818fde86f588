"""Local actions become activities: each writes its rows, the activity and one delivery per
distinct target inbox (shared inboxes preferred) in the caller's transaction, so a commit
means the deliveries exist; the commit then calls `Outbox.queued` (in a serving process, the
delivery worker's `notify`), so they go out at once rather than at the worker's next poll.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.documents import actor_document, featured_uri
from actors.notifications import notify, notify_edited, notify_new_status, withdraw
from actors.urls import LocalUrls
from federation.documents import DocumentError, host_of
from federation.vocab import PUBLIC
from moderation.policy import DomainPolicy
from outbox.documents import NEVER_FEDERATED, activity, addressing, note_document
from outbox.polls import PollDraft, add_poll, poll_of, send_poll_update
from storage.events import call_after_commit
from storage.ids import new_id
from storage.tables import (
    Actor,
    Block,
    Delivery,
    Favourite,
    Follow,
    MediaAttachment,
    Mention,
    Status,
    StatusEdit,
    StatusTag,
    utcnow,
)


class ActionError(ValueError):
    """A local action cannot be done as asked (e.g. boosting a followers-only post)."""


@dataclass(frozen=True)
class Outbox:
    urls: LocalUrls
    policy: DomainPolicy
    queued: Callable[[], None] = lambda: None  # called after a commit that queued deliveries

    # --- addressing -----------------------------------------------------------------------

    async def follower_inboxes(self, session: AsyncSession, actor: Actor, *,
                               network_only: bool = False) -> set[str]:
        rows = await session.exec(
            select(Actor.shared_inbox_uri, Actor.inbox_uri, Actor.domain)
            .join(Follow, Follow.follower_id == Actor.id)
            .where(Follow.followee_id == actor.id, Follow.state == "accepted",
                   Actor.domain.is_not(None))  # type: ignore[union-attr]
        )
        inboxes = set()
        for shared, personal, domain in rows.all():
            if network_only and not self._member(domain):
                continue
            inboxes.add(shared or personal)
        return inboxes

    def _member(self, domain: str) -> bool:
        return self.policy.network is not None and self.policy.network.is_member(domain)

    @staticmethod
    def inbox_of(actor: Actor) -> str | None:
        if actor.domain is None:
            return None
        return actor.shared_inbox_uri or actor.inbox_uri

    async def enqueue(self, session: AsyncSession, document: dict[str, Any], signer: Actor,
                      inboxes: Iterable[str | None]) -> int:
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        rules = await self.policy.current(session)  # suspended domains are sent nothing
        count = 0
        for inbox in sorted({inbox for inbox in inboxes if inbox}):
            try:
                # The same host key the inbox uses when that host contacts us (unpark_host).
                host = host_of(inbox)
            except DocumentError:
                continue  # not an http(s) inbox: nothing can be delivered there
            if not rules.allows(host) or host == self.urls.domain:
                continue
            session.add(Delivery(activity_uri=document["id"], inbox_uri=inbox, host=host,
                                 signer_id=signer.id, body=body))
            count += 1
        await session.flush()
        if count:
            call_after_commit(session, self.queued)
        return count

    def _activity_id(self, actor: Actor, kind: str) -> str:
        return f"{actor.uri}#{kind}/{new_id()}"

    # --- follows --------------------------------------------------------------------------

    async def send_follow(self, session: AsyncSession, follower: Actor, target: Actor) -> Follow:
        found = await session.exec(select(Follow).where(
            Follow.follower_id == follower.id, Follow.followee_id == target.id))
        follow = found.first()
        if follow is not None:
            return follow
        follow = Follow(follower_id=follower.id, followee_id=target.id,
                        uri=self._activity_id(follower, "follows"))
        if target.domain is None:  # a local follow needs no message
            follow.state = "pending" if target.locked else "accepted"
        session.add(follow)
        await session.flush()
        if target.domain is not None:
            await self.enqueue(session, activity("Follow", follow.uri, follower, target.uri),
                               follower, [target.inbox_uri])
        else:
            await notify(session, recipient=target, kind="follow" if follow.state == "accepted" else "follow_request",
                         from_actor=follower)
        return follow

    async def send_unfollow(self, session: AsyncSession, follower: Actor, target: Actor) -> bool:
        found = await session.exec(select(Follow).where(
            Follow.follower_id == follower.id, Follow.followee_id == target.id))
        follow = found.first()
        if follow is None:
            return False
        await session.delete(follow)
        await withdraw(session, recipient=target, kinds=("follow", "follow_request"), from_actor=follower)
        if target.domain is not None:
            follow_document = activity("Follow", follow.uri, follower, target.uri)
            follow_document.pop("@context")
            undo = activity("Undo", self._activity_id(follower, "undo"), follower, follow_document)
            await self.enqueue(session, undo, follower, [target.inbox_uri])
        await session.flush()
        return True

    async def accept_follow(self, session: AsyncSession, follow: Follow, followee: Actor,
                            follower: Actor) -> None:
        follow.state = "accepted"
        session.add(follow)
        await self._answer_follow(session, "Accept", follow, followee, follower)

    async def reject_follow(self, session: AsyncSession, follow: Follow, followee: Actor,
                            follower: Actor) -> None:
        await session.delete(follow)
        await self._answer_follow(session, "Reject", follow, followee, follower)

    async def _answer_follow(self, session: AsyncSession, kind: str, follow: Follow, followee: Actor,
                             follower: Actor) -> None:
        if follower.domain is not None:
            follow_document = {"id": follow.uri, "type": "Follow", "actor": follower.uri, "object": followee.uri}
            answer = activity(kind, self._activity_id(followee, kind.lower()), followee, follow_document)
            await self.enqueue(session, answer, followee, [follower.inbox_uri])
        await session.flush()

    # --- statuses -------------------------------------------------------------------------

    async def post_status(
        self,
        session: AsyncSession,
        author: Actor,
        *,
        content_html: str,
        visibility: str,
        summary: str = "",
        sensitive: bool = False,
        language: str | None = None,
        in_reply_to: Status | None = None,
        mentions: list[Actor] = (),  # type: ignore[assignment]
        hashtags: list[str] = (),  # type: ignore[assignment]
        application_id: int | None = None,
        media: list[MediaAttachment] = (),  # type: ignore[assignment]
        poll: PollDraft | None = None,
    ) -> Status:
        """`application_id`: the client app it was posted with (Mastodon's `application`);
        `media`: uploads (not yet in a post) it carries, in order; `poll`: makes it a Question."""
        status_id = new_id()
        uri = self.urls.status(author.username, status_id)
        status = Status(
            id=status_id, uri=uri, actor_id=author.id, local=True, visibility=visibility,
            content=content_html, summary=summary, sensitive=sensitive or bool(summary),
            language=language, url=uri, in_reply_to_uri=in_reply_to.uri if in_reply_to else None,
            application_id=application_id,
        )
        session.add(status)
        await session.flush()
        for mentioned in mentions:
            session.add(Mention(status_id=status.id, actor_uri=mentioned.uri))
        for name in dict.fromkeys(hashtags):
            session.add(StatusTag(status_id=status.id, name=name))
        for position, attachment in enumerate(media):
            attachment.status_id, attachment.position = status.id, position
            session.add(attachment)
        await session.flush()
        if poll is not None:
            await add_poll(session, status, poll)
        await self._send_status_activity(session, "Create", status, author, list(mentions))
        await notify_new_status(session, status, author, mentions)
        return status

    async def edit_status(self, session: AsyncSession, status: Status, author: Actor, *,
                          content_html: str, summary: str | None = None, sensitive: bool | None = None,
                          language: str | None = None, mentions: Iterable[Actor] | None = None,
                          hashtags: Iterable[str] | None = None) -> Status:
        """Change what was given (None: keep it), keeping the version before as a StatusEdit
        for the history. `mentions` are only added; `hashtags` replace the old ones."""
        session.add(StatusEdit(status_id=status.id, content=status.content, summary=status.summary,
                               sensitive=status.sensitive, created_at=status.edited_at or status.created_at))
        status.content = content_html
        if sensitive is not None:
            status.sensitive = sensitive
        if language is not None:
            status.language = language
        if summary is not None:
            status.summary = summary
            status.sensitive = status.sensitive or bool(summary)
        status.edited_at = utcnow()
        session.add(status)
        await session.flush()
        await self._retag(session, status, mentions or (), hashtags)
        await self._send_status_activity(session, "Update", status, author,
                                          await self._mentioned(session, status))
        await notify_edited(session, status, author)
        return status

    async def _retag(self, session: AsyncSession, status: Status, mentioned: Iterable[Actor],
                     hashtags: Iterable[str] | None) -> None:
        """The rows an edit changes. Mentions are only added: someone named before the edit
        still hears about it (Mastodon's UpdateStatusService keeps them too)."""
        present = set((await session.exec(select(Mention.actor_uri).where(Mention.status_id == status.id))).all())
        for actor in mentioned:
            if actor.uri not in present:
                session.add(Mention(status_id=status.id, actor_uri=actor.uri))
                present.add(actor.uri)
        if hashtags is not None:
            await session.exec(delete(StatusTag).where(StatusTag.status_id == status.id))  # type: ignore[call-overload]
            for name in dict.fromkeys(hashtags):
                session.add(StatusTag(status_id=status.id, name=name))
        await session.flush()

    async def delete_status(self, session: AsyncSession, status: Status, author: Actor) -> None:
        mentioned = await self._mentioned(session, status)
        to, cc = addressing(status, author, [m.uri for m in mentioned])
        status.deleted_at = utcnow()
        status.content = ""
        status.summary = ""
        session.add(status)
        # Its uploads become unused again, for a redraft (Mastodon nullifies them too); the
        # media cleanup removes those not reused within a day.
        await session.exec(update(MediaAttachment)  # type: ignore[call-overload]
                           .where(MediaAttachment.status_id == status.id, MediaAttachment.file_name.is_not(None))
                           .values(status_id=None, released_at=status.deleted_at))
        await session.flush()
        if status.visibility in NEVER_FEDERATED:
            return
        tombstone = {"id": status.uri, "type": "Tombstone"}
        document = activity("Delete", f"{status.uri}#delete", author, tombstone, to=to, cc=cc)
        audience = await self._audience(session, status, author, mentioned)
        # Servers whose people boosted it hold a copy too, whoever they follow.
        boosters = await session.exec(select(Actor).join(Status, Status.actor_id == Actor.id).where(
            Status.reblog_of_id == status.id, Actor.domain.is_not(None)))  # type: ignore[union-attr]
        audience |= {self.inbox_of(booster) for booster in boosters.all()}
        await self.enqueue(session, document, author, audience)

    async def forward(self, session: AsyncSession, document: dict[str, Any], inboxes: set[str]) -> int:
        """Pass someone else's activity on (a Delete of a post our people boosted), signed by
        the instance actor; receivers check it at its origin."""
        instance = (await session.exec(select(Actor).where(Actor.uri == self.urls.instance_actor))).one()
        return await self.enqueue(session, document, instance, inboxes)

    async def _mentioned(self, session: AsyncSession, status: Status) -> list[Actor]:
        rows = await session.exec(
            select(Actor).join(Mention, Mention.actor_uri == Actor.uri).where(Mention.status_id == status.id))
        return list(rows.all())

    async def _audience(self, session: AsyncSession, status: Status, author: Actor,
                        mentioned: list[Actor]) -> set[str | None]:
        if status.visibility == "network":  # mentioned people outside the network are not told either
            mentioned = [actor for actor in mentioned if actor.domain is None or self._member(actor.domain)]
        inboxes: set[str | None] = {self.inbox_of(actor) for actor in mentioned}
        if status.visibility in ("public", "unlisted", "private", "network"):
            inboxes |= await self.follower_inboxes(session, author,
                                                   network_only=status.visibility == "network")
        if status.in_reply_to_uri and status.visibility in ("public", "unlisted"):
            parent_author = await session.exec(
                select(Actor).join(Status, Status.actor_id == Actor.id)
                .where(Status.uri == status.in_reply_to_uri))
            parent = parent_author.first()
            if parent is not None:
                inboxes.add(self.inbox_of(parent))
        return inboxes

    async def _send_status_activity(self, session: AsyncSession, kind: str, status: Status,
                                    author: Actor, mentioned: list[Actor]) -> None:
        if status.visibility in NEVER_FEDERATED:
            return
        mention_uris = [actor.uri for actor in mentioned]
        tags = (await session.exec(select(StatusTag.name).where(StatusTag.status_id == status.id))).all()
        media = (await session.exec(
            select(MediaAttachment).where(MediaAttachment.status_id == status.id)
            .order_by(MediaAttachment.position, MediaAttachment.id))).all()
        poll = await poll_of(session, status.id)
        note = note_document(status, author, mention_uris=mention_uris, hashtags=list(tags),
                             attachments=list(media), tag_url=f"{self.urls.base_url}/tags/{{name}}",
                             with_context=False, poll=(*poll, utcnow()) if poll else None)
        suffix = "activity" if kind == "Create" else f"updates/{int(datetime.now(UTC).timestamp() * 1000)}"
        document = activity(kind, f"{status.uri}/{suffix}", author, note, to=note["to"], cc=note["cc"],
                            published=status.edited_at if kind == "Update" else status.created_at)
        await self.enqueue(session, document, author, await self._audience(session, status, author, mentioned))

    async def send_poll_update(self, session: AsyncSession, status: Status, author: Actor) -> None:
        """A local poll's new totals to the servers that keep a copy (after a vote counted)."""
        await send_poll_update(self, session, status, author, f"{self.urls.base_url}/tags/{{name}}")

    # --- reactions ------------------------------------------------------------------------

    async def favourite(self, session: AsyncSession, actor: Actor, status: Status, author: Actor) -> Favourite:
        found = await session.exec(select(Favourite).where(
            Favourite.actor_id == actor.id, Favourite.status_id == status.id))
        favourite = found.first()
        if favourite is not None:
            return favourite
        favourite = Favourite(actor_id=actor.id, status_id=status.id, uri=self._activity_id(actor, "likes"))
        session.add(favourite)
        await session.flush()
        await self.enqueue(session, activity("Like", favourite.uri, actor, status.uri), actor,
                           [self.inbox_of(author)])
        await notify(session, recipient=author, kind="favourite", from_actor=actor, status=status)
        return favourite

    async def unfavourite(self, session: AsyncSession, actor: Actor, status: Status, author: Actor) -> None:
        found = await session.exec(select(Favourite).where(
            Favourite.actor_id == actor.id, Favourite.status_id == status.id))
        favourite = found.first()
        if favourite is None:
            return
        await session.delete(favourite)
        await withdraw(session, recipient=author, kinds=("favourite",), from_actor=actor, status=status)
        like = activity("Like", favourite.uri, actor, status.uri)
        like.pop("@context")
        await self.enqueue(session, activity("Undo", self._activity_id(actor, "undo"), actor, like),
                           actor, [self.inbox_of(author)])

    async def boost(self, session: AsyncSession, actor: Actor, status: Status, author: Actor) -> Status:
        if status.visibility not in ("public", "unlisted"):
            raise ActionError("only public and unlisted posts can be boosted")
        found = await session.exec(select(Status).where(
            Status.actor_id == actor.id, Status.reblog_of_id == status.id, Status.deleted_at.is_(None)))  # type: ignore[union-attr]
        existing = found.first()
        if existing is not None:
            return existing
        boost_id = new_id()
        boost = Status(id=boost_id, uri=f"{actor.uri}/statuses/{boost_id}/activity", actor_id=actor.id,
                       local=True, visibility="public", reblog_of_id=status.id)
        session.add(boost)
        await session.flush()
        followers = [actor.followers_uri] if actor.followers_uri else []
        announce = activity("Announce", boost.uri, actor, status.uri,
                            to=["https://www.w3.org/ns/activitystreams#Public"],
                            cc=followers + [author.uri], published=boost.created_at)
        inboxes = await self.follower_inboxes(session, actor) | {self.inbox_of(author)}
        await self.enqueue(session, announce, actor, inboxes)
        await notify(session, recipient=author, kind="reblog", from_actor=actor, status=status)
        return boost

    async def unboost(self, session: AsyncSession, actor: Actor, status: Status, author: Actor) -> bool:
        found = await session.exec(select(Status).where(
            Status.actor_id == actor.id, Status.reblog_of_id == status.id, Status.deleted_at.is_(None)))  # type: ignore[union-attr]
        boost = found.first()
        if boost is None:
            return False
        boost.deleted_at = utcnow()
        session.add(boost)
        await withdraw(session, recipient=author, kinds=("reblog",), from_actor=actor, status=status)
        announce = activity("Announce", boost.uri, actor, status.uri)
        announce.pop("@context")
        undo = activity("Undo", self._activity_id(actor, "undo"), actor, announce)
        inboxes = await self.follower_inboxes(session, actor) | {self.inbox_of(author)}
        await self.enqueue(session, undo, actor, inboxes)
        return True

    # --- blocks ---------------------------------------------------------------------------

    async def block(self, session: AsyncSession, actor: Actor, target: Actor) -> Block:
        found = await session.exec(select(Block).where(Block.actor_id == actor.id, Block.target_id == target.id))
        block = found.first()
        if block is not None:
            return block
        block = Block(actor_id=actor.id, target_id=target.id, uri=self._activity_id(actor, "blocks"))
        session.add(block)
        await session.exec(delete(Follow).where(  # type: ignore[call-overload]
            ((Follow.follower_id == actor.id) & (Follow.followee_id == target.id))
            | ((Follow.follower_id == target.id) & (Follow.followee_id == actor.id))))
        await session.flush()
        await self.enqueue(session, activity("Block", block.uri, actor, target.uri), actor, [self.inbox_of(target)])
        return block

    async def unblock(self, session: AsyncSession, actor: Actor, target: Actor) -> bool:
        found = await session.exec(select(Block).where(Block.actor_id == actor.id, Block.target_id == target.id))
        block = found.first()
        if block is None:
            return False
        await session.delete(block)
        block_document = activity("Block", block.uri, actor, target.uri)
        block_document.pop("@context")
        undo = activity("Undo", self._activity_id(actor, "undo"), actor, block_document)
        await self.enqueue(session, undo, actor, [self.inbox_of(target)])
        return True

    # --- profile --------------------------------------------------------------------------

    async def update_profile(self, session: AsyncSession, actor: Actor) -> None:
        """Tell followers' and followees' servers that the profile (or its key) changed."""
        actor.updated_at = utcnow()
        session.add(actor)
        await session.flush()
        person = actor_document(actor)
        person.pop("@context")
        update = activity("Update", self._activity_id(actor, "updates"), actor, person,
                          to=["https://www.w3.org/ns/activitystreams#Public"],
                          cc=[actor.followers_uri] if actor.followers_uri else [])
        await self.enqueue(session, update, actor, await self.known_inboxes(session, actor))

    async def announce_pin(self, session: AsyncSession, author: Actor, status: Status, *, pinned: bool) -> None:
        """Tell followers' servers a post was pinned (`Add` to the `featured` collection) or
        unpinned (`Remove`). Only public and unlisted posts: the collection shows no others."""
        if status.visibility not in ("public", "unlisted"):
            return
        document = activity("Add" if pinned else "Remove", self._activity_id(author, "pins"), author, status.uri,
                            to=[PUBLIC], cc=[author.followers_uri] if author.followers_uri else [])
        document["target"] = featured_uri(author.uri)
        await self.enqueue(session, document, author, await self.follower_inboxes(session, author))

    async def known_inboxes(self, session: AsyncSession, actor: Actor) -> set[str]:
        """Servers that keep a copy of this actor: those of its followers and of whom it follows."""
        rows = await session.exec(
            select(Actor.shared_inbox_uri, Actor.inbox_uri)
            .join(Follow, (Follow.follower_id == Actor.id) | (Follow.followee_id == Actor.id))
            .where((Follow.followee_id == actor.id) | (Follow.follower_id == actor.id),
                   Actor.id != actor.id, Actor.domain.is_not(None)))  # type: ignore[union-attr]
        return {shared or personal for shared, personal in rows.all()}

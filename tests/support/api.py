"""Building client-API test data through the real code paths: accounts, tokens, follows, posts."""

from __future__ import annotations

from sqlmodel import select

from actors.accounts import LocalAccount
from moderation.policy import DomainPolicy
from outbox.actions import Outbox
from storage.ids import new_id
from storage.tables import Actor, Follow, MediaAttachment, Mention, OAuthApp, Status, StatusTag
from web.auth import issue_token, new_secret
from web.context import AppContext


def outbox_of(ctx: AppContext) -> Outbox:
    return Outbox(urls=ctx.urls, policy=DomainPolicy())


async def bearer(ctx: AppContext, account: LocalAccount, scopes: tuple[str, ...] = ("read",)) -> dict[str, str]:
    """An `Authorization` header for a token `account` got through an app, as OAuth would issue it."""
    async with ctx.database.transaction() as session:
        app = OAuthApp(client_id=new_secret(), client_secret=new_secret(), name="Test app",
                       redirect_uris="urn:ietf:wg:oauth:2.0:oob", scopes="read write follow push")
        session.add(app)
        await session.flush()
        plain, _ = await issue_token(session, app, account.user.id, scopes)
    return {"Authorization": f"Bearer {plain}"}


async def follow(ctx: AppContext, follower: Actor, followee: Actor, *, accept: bool = True) -> None:
    """`follower` follows a local `followee`; a locked followee's approval when `accept`."""
    outbox = outbox_of(ctx)
    async with ctx.database.transaction() as session:
        row = await outbox.send_follow(session, follower, followee)
        if accept and row.state == "pending":
            row = (await session.exec(select(Follow).where(Follow.id == row.id))).one()
            await outbox.accept_follow(session, row, followee, follower)


async def post(ctx: AppContext, author: Actor, text: str, visibility: str = "public", *,
               reply_to: Status | None = None, mentions: tuple[Actor, ...] = (),
               hashtags: tuple[str, ...] = (), summary: str = "", language: str | None = "en") -> Status:
    async with ctx.database.transaction() as session:
        return await outbox_of(ctx).post_status(
            session, author, content_html=f"<p>{text}</p>", visibility=visibility, summary=summary,
            language=language, in_reply_to=reply_to, mentions=list(mentions), hashtags=list(hashtags))


async def boost(ctx: AppContext, booster: Actor, status: Status, author: Actor) -> Status:
    async with ctx.database.transaction() as session:
        return await outbox_of(ctx).boost(session, booster, status, author)


async def favourite(ctx: AppContext, actor: Actor, status: Status, author: Actor) -> None:
    async with ctx.database.transaction() as session:
        await outbox_of(ctx).favourite(session, actor, status, author)


async def remote_post(ctx: AppContext, author: Actor, text: str, visibility: str = "public", *,
                      media_url: str | None = None, hashtags: tuple[str, ...] = (),
                      mentions: tuple[Actor, ...] = (), reply_to: Status | None = None) -> Status:
    """A remote post as the inbox's Create handler stores it."""
    number = new_id()
    status = Status(uri=f"{author.uri}/statuses/{number}", actor_id=author.id, local=False, visibility=visibility,
                    content=f"<p>{text}</p>", url=f"https://{author.domain}/@{author.username}/{number}",
                    in_reply_to_uri=reply_to.uri if reply_to else None)
    async with ctx.database.transaction() as session:
        session.add(status)
        await session.flush()
        for name in hashtags:
            session.add(StatusTag(status_id=status.id, name=name))
        for actor in mentions:
            session.add(Mention(status_id=status.id, actor_uri=actor.uri))
        if media_url:
            session.add(MediaAttachment(status_id=status.id, remote_url=media_url, media_type="image/png",
                                        description="a chart", width=640, height=480))
    return status

"""How the client API shows an account a moderator limited or suspended (as Mastodon shows it)."""

import pytest

from storage.tables import utcnow
from tests.conftest import add_account, add_remote_actor
from web.api.entities.formats import missing_avatar

pytestmark = pytest.mark.without_workers


async def test_a_suspended_account_shows_that_it_is_and_nothing_it_wrote(app, ctx, client):
    account = await add_account(ctx, "dee", display_name="Dee", summary="<p>pills for sale</p>",
                                fields=[{"name": "shop", "value": "spam.example"}], suspended_at=utcnow())
    shown = (await client.get(f"/api/v1/accounts/{account.actor.id}")).json()
    assert shown["suspended"] is True
    assert (shown["display_name"], shown["note"], shown["fields"]) == ("", "", [])
    assert shown["avatar"] == missing_avatar(ctx.urls)
    assert "limited" not in shown


async def test_a_limited_account_is_marked_and_an_ordinary_one_is_not(app, ctx, client):
    limited = await add_remote_actor(ctx, "loud", domain="noisy.test")
    ordinary = await add_account(ctx, "ann", display_name="Ann")
    async with ctx.database.transaction() as session:
        limited.silenced_at = utcnow()
        session.add(limited)
    shown = (await client.get(f"/api/v1/accounts/{limited.id}")).json()
    assert shown["limited"] is True and "suspended" not in shown
    plain = (await client.get(f"/api/v1/accounts/{ordinary.actor.id}")).json()
    assert "limited" not in plain and "suspended" not in plain and plain["display_name"] == "Ann"

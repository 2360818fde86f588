"""Lists and their timelines, and reading markers, through the client API."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from storage.tables import AccountList, ListMember, Marker
from tests.conftest import add_account
from tests.support.api import bearer, follow, post


async def count(ctx, table) -> int:
    async with ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_a_list_of_followed_staff_makes_its_own_timeline(ctx, client):
    ann = await add_account(ctx, "ann")
    bo = await add_account(ctx, "dr_bo", role="staff")
    cy = await add_account(ctx, "dr_cy", role="staff")
    for followee in (bo, cy):
        await follow(ctx, ann.actor, followee.actor)
    token = await bearer(ctx, ann, ("read", "write"))
    created = await client.post("/api/v1/lists", headers=token, data={"title": "Cardiology", "exclusive": "1"})
    assert created.status_code == 200, created.text
    cardiology = created.json()
    assert (cardiology["title"], cardiology["replies_policy"], cardiology["exclusive"]) == ("Cardiology", "list", True)
    added = await client.post(f"/api/v1/lists/{cardiology['id']}/accounts", headers=token,
                              data={"account_ids[]": [str(bo.actor.id)]})
    assert added.status_code == 200 and added.json() == {}
    from_bo = await post(ctx, bo.actor, "ECG workshop at noon")
    await post(ctx, cy.actor, "not on the list")
    timeline = (await client.get(f"/api/v1/timelines/list/{cardiology['id']}", headers=token)).json()
    assert [status["id"] for status in timeline] == [str(from_bo.id)]
    members = (await client.get(f"/api/v1/lists/{cardiology['id']}/accounts", headers=token)).json()
    assert [account["username"] for account in members] == ["dr_bo"]
    assert [row["id"] for row in (await client.get(f"/api/v1/accounts/{bo.actor.id}/lists",
                                                   headers=token)).json()] == [cardiology["id"]]
    assert (await client.get(f"/api/v1/accounts/{cy.actor.id}/lists", headers=token)).json() == []
    renamed = await client.put(f"/api/v1/lists/{cardiology['id']}", headers=token,
                               json={"title": "Heart team", "replies_policy": "followed"})
    assert (renamed.json()["title"], renamed.json()["replies_policy"]) == ("Heart team", "followed")
    assert [row["title"] for row in (await client.get("/api/v1/lists", headers=token)).json()] == ["Heart team"]
    removed = await client.request("DELETE", f"/api/v1/lists/{cardiology['id']}/accounts", headers=token,
                                   params={"account_ids[]": str(bo.actor.id)})
    assert removed.status_code == 200
    assert (await client.get(f"/api/v1/timelines/list/{cardiology['id']}", headers=token)).json() == []
    assert (await client.delete(f"/api/v1/lists/{cardiology['id']}", headers=token)).status_code == 200
    assert await count(ctx, AccountList) == 0


async def test_lists_refuse_bad_input_and_other_peoples_lists_and_write_nothing(ctx, client):
    ann = await add_account(ctx, "ann")
    dee = await add_account(ctx, "dee")
    stranger = await add_account(ctx, "dr_ed", role="staff")  # ann does not follow him
    ann_token, dee_token = await bearer(ctx, ann, ("read", "write")), await bearer(ctx, dee, ("read", "write"))
    mine = (await client.post("/api/v1/lists", headers=ann_token, json={"title": "Mine"})).json()
    for body in ({}, {"title": "   "}, {"title": "x" * 256}, {"title": "ok", "replies_policy": "all"}):
        answer = await client.post("/api/v1/lists", headers=ann_token, json=body)
        assert answer.status_code == 422 and "Validation failed" in answer.json()["error"], body
    not_followed = await client.post(f"/api/v1/lists/{mine['id']}/accounts", headers=ann_token,
                                     json={"account_ids": [str(stranger.actor.id)]})
    assert not_followed.status_code == 422
    assert (await client.post(f"/api/v1/lists/{mine['id']}/accounts", headers=ann_token,
                              json={"account_ids": ["999999"]})).status_code == 404
    assert (await client.post(f"/api/v1/lists/{mine['id']}/accounts", headers=ann_token,
                              json={})).status_code == 422
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/accounts")):
        answer = await client.request(method, f"/api/v1/lists/{mine['id']}{path}", headers=dee_token,
                                      json={"title": "taken"} if method == "PUT" else None)
        assert answer.status_code == 404, (method, path)
    assert (await client.get(f"/api/v1/timelines/list/{mine['id']}", headers=dee_token)).status_code == 404
    assert (await client.get("/api/v1/lists/abc", headers=ann_token)).status_code == 404
    assert (await client.get("/api/v1/lists")).status_code == 401
    read_only = await bearer(ctx, ann, ("read",))
    assert (await client.post("/api/v1/lists", headers=read_only, json={"title": "no"})).status_code == 403
    assert await count(ctx, AccountList) == 1 and await count(ctx, ListMember) == 0
    assert (await client.get(f"/api/v1/lists/{mine['id']}", headers=ann_token)).json()["title"] == "Mine"


async def test_markers_are_shared_by_apps_and_versioned(ctx, client):
    ann = await add_account(ctx, "ann")
    phone, laptop = await bearer(ctx, ann, ("read", "write")), await bearer(ctx, ann, ("read", "write"))
    assert (await client.get("/api/v1/markers", headers=phone, params={"timeline[]": "home"})).json() == {}
    saved = await client.post("/api/v1/markers", headers=phone, data={"home[last_read_id]": "1234"})
    assert saved.status_code == 200 and saved.json()["home"]["last_read_id"] == "1234"
    assert saved.json()["home"]["version"] == 0 and saved.json()["home"]["updated_at"].endswith("Z")
    again = await client.post("/api/v1/markers", headers=laptop,
                              json={"home": {"last_read_id": "1300"}, "notifications": {"last_read_id": "7"}})
    assert again.json()["home"]["version"] == 1 and again.json()["notifications"]["version"] == 0
    both = (await client.get("/api/v1/markers", headers=phone,
                             params=[("timeline[]", "home"), ("timeline[]", "notifications")])).json()
    assert (both["home"]["last_read_id"], both["notifications"]["last_read_id"]) == ("1300", "7")
    for body in ({}, {"home": {"last_read_id": "not-an-id"}}):
        assert (await client.post("/api/v1/markers", headers=phone, json=body)).status_code == 422
    assert (await client.get("/api/v1/markers")).status_code == 401
    assert await count(ctx, Marker) == 2

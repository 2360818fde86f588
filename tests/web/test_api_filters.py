"""Filters v2 through the client API: keywords and statuses, in JSON and in Rails form keys."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import func
from sqlmodel import select

from storage.tables import Filter, FilterKeyword, FilterStatus
from tests.conftest import add_account
from tests.support.api import bearer, post


async def count(ctx, table) -> int:
    async with ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def test_a_filter_made_as_mastodon_py_makes_it_is_kept_shown_edited_and_deleted(ctx, client):
    ann = await add_account(ctx, "ann")
    token = await bearer(ctx, ann, ("read", "write"))
    created = await client.post("/api/v2/filters", headers=token, json={
        "title": "Triggers", "context": ["home", "public"], "filter_action": "hide", "expires_in": 3600,
        "keywords_attributes": [{"keyword": "relapse", "whole_word": True}, {"keyword": "scale", "whole_word": False}]})
    assert created.status_code == 200, created.text
    triggers = created.json()
    assert (triggers["title"], triggers["context"]) == ("Triggers", ["home", "public"])
    assert triggers["filter_action"] == "hide"
    assert triggers["expires_at"].endswith("Z")
    assert [(k["keyword"], k["whole_word"]) for k in triggers["keywords"]] == [("relapse", True), ("scale", False)]
    listed = (await client.get("/api/v2/filters", headers=token)).json()
    assert [entry["id"] for entry in listed] == [triggers["id"]]
    changed = await client.put(f"/api/v2/filters/{triggers['id']}", headers=token,
                               json={"title": "Hard topics", "context": ["notifications"], "expires_in": ""})
    assert (changed.json()["title"], changed.json()["context"], changed.json()["expires_at"]) == (
        "Hard topics", ["notifications"], None)
    keyword_id = triggers["keywords"][1]["id"]
    edited = await client.put(f"/api/v2/filters/keywords/{keyword_id}", headers=token, json={"keyword": "weight"})
    assert (edited.json()["keyword"], edited.json()["whole_word"]) == ("weight", False)
    added = await client.post(f"/api/v2/filters/{triggers['id']}/keywords", headers=token,
                              data={"keyword": "diet", "whole_word": "0"})
    assert (added.json()["keyword"], added.json()["whole_word"]) == ("diet", False)
    assert (await client.delete(f"/api/v2/filters/keywords/{keyword_id}", headers=token)).status_code == 200
    status = await post(ctx, ann.actor, "a post to hide")
    filtered = await client.post(f"/api/v2/filters/{triggers['id']}/statuses", headers=token,
                                 json={"status_id": str(status.id)})
    assert filtered.json()["status_id"] == str(status.id)
    shown = (await client.get(f"/api/v2/filters/{triggers['id']}", headers=token)).json()
    assert [k["keyword"] for k in shown["keywords"]] == ["relapse", "diet"]
    assert [s["status_id"] for s in shown["statuses"]] == [str(status.id)]
    assert (await client.delete(f"/api/v2/filters/{triggers['id']}", headers=token)).status_code == 200
    assert (await count(ctx, Filter), await count(ctx, FilterKeyword), await count(ctx, FilterStatus)) == (0, 0, 0)


async def test_rails_form_keys_make_one_keyword_per_bracket_group(ctx, client):
    ann = await add_account(ctx, "ann")
    token = await bearer(ctx, ann, ("read", "write"))
    form = urlencode([
        ("title", "Spoilers"), ("context[]", "home"), ("context[]", "thread"),
        ("keywords_attributes[][keyword]", "finale"), ("keywords_attributes[][whole_word]", "false"),
        ("keywords_attributes[][keyword]", "ending")])
    created = await client.post("/api/v2/filters", content=form,
                                headers=token | {"Content-Type": "application/x-www-form-urlencoded"})
    assert created.status_code == 200, created.text
    assert [(k["keyword"], k["whole_word"]) for k in created.json()["keywords"]] == [
        ("finale", False), ("ending", True)]
    assert created.json()["context"] == ["home", "thread"] and created.json()["filter_action"] == "warn"


async def test_bad_filters_and_other_peoples_filters_are_refused_and_nothing_is_written(ctx, client):
    ann, dee = await add_account(ctx, "ann"), await add_account(ctx, "dee")
    token, other = await bearer(ctx, ann, ("read", "write")), await bearer(ctx, dee, ("read", "write"))
    mine = (await client.post("/api/v2/filters", headers=token, json={"title": "Mine", "context": ["home"]})).json()
    for body in ({"context": ["home"]}, {"title": "x", "context": []}, {"title": "x", "context": ["everywhere"]},
                 {"title": "x", "context": ["home"], "filter_action": "delete"},
                 {"title": "x", "context": ["home"], "expires_in": "soon"},
                 {"title": "x", "context": ["home"], "keywords_attributes": [{"keyword": ""}]}):
        answer = await client.post("/api/v2/filters", headers=token, json=body)
        assert answer.status_code == 422 and "Validation failed" in answer.json()["error"], body
    for method, path in (("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/keywords"), ("GET", "/statuses")):
        answer = await client.request(method, f"/api/v2/filters/{mine['id']}{path}", headers=other,
                                      json={"title": "taken"} if method == "PUT" else None)
        assert answer.status_code == 404, (method, path)
    hidden = await post(ctx, dee.actor, "dee's followers only", visibility="private")
    refused = await client.post(f"/api/v2/filters/{mine['id']}/statuses", headers=token,
                                json={"status_id": str(hidden.id)})
    assert refused.status_code == 422
    assert (await client.get("/api/v2/filters")).status_code == 401
    assert (await client.post("/api/v2/filters", headers=await bearer(ctx, ann, ("read",)),
                              json={"title": "x", "context": ["home"]})).status_code == 403
    assert (await count(ctx, Filter), await count(ctx, FilterKeyword), await count(ctx, FilterStatus)) == (1, 0, 0)

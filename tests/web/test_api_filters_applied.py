"""A person's filters at work on what they read: `filtered` on statuses, and `hide` taking
statuses out of the timelines of the contexts it names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from storage.tables import Filter, utcnow
from tests.conftest import add_account
from tests.support.api import bearer, boost, follow, post


@pytest.fixture
async def people(ctx):
    """bob follows ann; dee is someone else with filters of her own."""
    accounts = {name: await add_account(ctx, name) for name in ("ann", "bob", "dee")}
    await follow(ctx, accounts["bob"].actor, accounts["ann"].actor)
    return accounts


async def make_filter(client, token, title: str, context: list[str], action: str = "warn",
                      keywords: tuple[tuple[str, bool], ...] = ()) -> dict:
    answer = await client.post("/api/v2/filters", headers=token, json={
        "title": title, "context": context, "filter_action": action,
        "keywords_attributes": [{"keyword": keyword, "whole_word": whole} for keyword, whole in keywords]})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def timeline(client, token, path: str) -> dict[str, dict]:
    answer = await client.get(path, headers=token)
    assert answer.status_code == 200, answer.text
    return {entity["id"]: entity for entity in answer.json()}


async def test_a_warn_filter_flags_matching_statuses_in_home_and_public_with_the_keyword(ctx, client, people):
    token = await bearer(ctx, people["bob"], ("read", "write"))
    spoilers = await make_filter(client, token, "Spoilers", ["home", "public"], keywords=(("finale", True),))
    flagged = await post(ctx, people["ann"].actor, "The <b>FINALE</b> was a shock", summary="tv")
    plain = await post(ctx, people["ann"].actor, "nothing to see here")
    for path in ("/api/v1/timelines/home", "/api/v1/timelines/public"):
        shown = await timeline(client, token, path)
        results = shown[str(flagged.id)]["filtered"]
        assert len(results) == 1, path
        assert results[0]["filter"]["id"] == spoilers["id"]
        assert results[0]["filter"]["filter_action"] == "warn"
        assert [k["keyword"] for k in results[0]["filter"]["keywords"]] == ["finale"]
        assert results[0]["keyword_matches"] == ["finale"]
        assert results[0]["status_matches"] is None
        assert shown[str(plain.id)]["filtered"] == [], path


async def test_a_keyword_in_the_content_warning_matches_too(ctx, client, people):
    token = await bearer(ctx, people["bob"], ("read", "write"))
    await make_filter(client, token, "Spoilers", ["home"], keywords=(("finale", True),))
    flagged = await post(ctx, people["ann"].actor, "what a night", summary="Finale talk")
    shown = await timeline(client, token, "/api/v1/timelines/home")
    assert shown[str(flagged.id)]["filtered"][0]["keyword_matches"] == ["finale"]


async def test_whole_word_keywords_match_words_and_others_match_anywhere(ctx, client, people):
    token = await bearer(ctx, people["bob"], ("read", "write"))
    await make_filter(client, token, "Whole", ["home"], keywords=(("cat", True),))
    await make_filter(client, token, "Part", ["home"], keywords=(("dog", False),))
    category = await post(ctx, people["ann"].actor, "a category of things")
    cat = await post(ctx, people["ann"].actor, "my cat, asleep")
    hotdogs = await post(ctx, people["ann"].actor, "Hotdogs for lunch")
    shown = await timeline(client, token, "/api/v1/timelines/home")
    assert shown[str(category.id)]["filtered"] == []
    assert [r["filter"]["title"] for r in shown[str(cat.id)]["filtered"]] == ["Whole"]
    assert [r["filter"]["title"] for r in shown[str(hotdogs.id)]["filtered"]] == ["Part"]
    assert shown[str(hotdogs.id)]["filtered"][0]["keyword_matches"] == ["dog"]


async def test_a_hide_filter_removes_statuses_only_in_the_contexts_it_names(ctx, client, people):
    token = await bearer(ctx, people["bob"], ("read", "write"))
    await make_filter(client, token, "No politics", ["home"], "hide", keywords=(("election", True),))
    hidden = await post(ctx, people["ann"].actor, "the election is today")
    kept = await post(ctx, people["ann"].actor, "gardening update")
    home = await client.get("/api/v1/timelines/home", headers=token)
    assert [entity["id"] for entity in home.json()] == [str(kept.id)]
    assert f"max_id={hidden.id}" in home.headers["link"]  # paging goes on past the hidden one
    public = await timeline(client, token, "/api/v1/timelines/public")
    assert public[str(hidden.id)]["filtered"] == []  # the filter is not for the public context
    own = await timeline(client, token, f"/api/v1/accounts/{people['ann'].actor.id}/statuses")
    assert str(hidden.id) in own


async def test_a_hide_filter_for_threads_and_accounts_applies_to_context_and_profile(ctx, client, people):
    token = await bearer(ctx, people["bob"], ("read", "write"))
    await make_filter(client, token, "Rude", ["thread", "account"], "hide", keywords=(("rubbish", True),))
    root = await post(ctx, people["ann"].actor, "my new song")
    rude = await post(ctx, people["dee"].actor, "rubbish #song", reply_to=root, hashtags=("song",))
    kind = await post(ctx, people["dee"].actor, "lovely song", reply_to=root)
    thread = (await client.get(f"/api/v1/statuses/{root.id}/context", headers=token)).json()
    assert [entity["id"] for entity in thread["descendants"]] == [str(kind.id)]
    profile = await timeline(client, token, f"/api/v1/accounts/{people['dee'].actor.id}/statuses")
    assert set(profile) == {str(kind.id)}
    assert str(rude.id) in await timeline(client, token, "/api/v1/timelines/tag/song")


async def test_expired_filters_are_ignored(ctx, client, people):
    token = await bearer(ctx, people["bob"], ("read", "write"))
    created = await make_filter(client, token, "Old", ["home"], "hide", keywords=(("finale", True),))
    async with ctx.database.transaction() as session:
        row = (await session.exec(select(Filter).where(Filter.id == int(created["id"])))).one()
        row.expires_at = utcnow() - timedelta(minutes=1)
        session.add(row)
    status = await post(ctx, people["ann"].actor, "the finale")
    shown = await timeline(client, token, "/api/v1/timelines/home")
    assert shown[str(status.id)]["filtered"] == []


async def test_another_persons_filters_never_apply(ctx, client, people):
    dee_token = await bearer(ctx, people["dee"], ("read", "write"))
    await make_filter(client, dee_token, "Dee's", ["home", "public"], "hide", keywords=(("finale", True),))
    await make_filter(client, dee_token, "Dee's warn", ["public"], keywords=(("finale", True),))
    status = await post(ctx, people["ann"].actor, "the finale")
    bob_token = await bearer(ctx, people["bob"])
    assert (await timeline(client, bob_token, "/api/v1/timelines/home"))[str(status.id)]["filtered"] == []
    assert (await timeline(client, bob_token, "/api/v1/timelines/public"))[str(status.id)]["filtered"] == []
    anonymous = await client.get("/api/v1/timelines/public")
    assert [entity["filtered"] for entity in anonymous.json()] == [[]]
    assert str(status.id) not in await timeline(client, dee_token, "/api/v1/timelines/public")


async def test_a_status_filter_flags_the_status_and_boosts_of_it(ctx, client, people):
    token = await bearer(ctx, people["bob"], ("read", "write"))
    chosen = await make_filter(client, token, "This one", ["home"])
    eve = await add_account(ctx, "eve")
    original = await post(ctx, eve.actor, "a post about anything")
    added = await client.post(f"/api/v2/filters/{chosen['id']}/statuses", headers=token,
                              json={"status_id": str(original.id)})
    assert added.status_code == 200, added.text
    other = await post(ctx, people["ann"].actor, "another post")
    boosted = await boost(ctx, people["ann"].actor, original, eve.actor)
    shown = await timeline(client, token, "/api/v1/timelines/home")
    result = shown[str(boosted.id)]["filtered"]
    assert [(r["filter"]["id"], r["status_matches"], r["keyword_matches"]) for r in result] == [
        (chosen["id"], [str(original.id)], None)]
    assert shown[str(boosted.id)]["reblog"]["filtered"] == result
    assert shown[str(other.id)]["filtered"] == []


async def test_notifications_hide_or_flag_what_a_notifications_filter_catches(ctx, client, people):
    token = await bearer(ctx, people["ann"], ("read", "write"))
    bob, ann = people["bob"].actor, people["ann"].actor
    await make_filter(client, token, "Diet talk", ["notifications"], action="hide", keywords=(("keto", True),))
    warn = await make_filter(client, token, "Results", ["notifications"], keywords=(("biopsy", True),))
    await make_filter(client, token, "Home only", ["home"], action="hide", keywords=(("lunch", True),))
    await post(ctx, bob, "@ann try keto!", mentions=(ann,))
    flagged = await post(ctx, bob, "@ann biopsy results are back", mentions=(ann,))
    lunch = await post(ctx, bob, "@ann lunch?", mentions=(ann,))
    answer = await client.get("/api/v1/notifications", headers=token)
    assert answer.status_code == 200, answer.text
    shown = {entity["status"]["id"]: entity["status"] for entity in answer.json()}
    assert set(shown) == {str(flagged.id), str(lunch.id)}  # the keto mention is hidden
    assert [result["filter"]["id"] for result in shown[str(flagged.id)]["filtered"]] == [warn["id"]]
    assert shown[str(lunch.id)]["filtered"] == []  # a home filter does not reach notifications

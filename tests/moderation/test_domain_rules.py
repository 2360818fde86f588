"""The domain policy snapshot: blocks cover subdomains, allowlist mode reads the allowed domains,
the cache expires after its TTL and a change committed in this process takes effect at once."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from moderation.domains import BlockEntry, lift_block, save_allow, save_block
from moderation.policy import DomainPolicy, DomainRule, DomainRules, within_domains
from storage.tables import Actor, DomainBlock
from tests.conftest import add_remote_actor

RULES = DomainRules(blocks={"spam.example": DomainRule("spam.example", "suspend"),
                            "rude.example": DomainRule("rude.example", "silence", reject_media=True),
                            "pics.example": DomainRule("pics.example", "noop", reject_reports=True)})


@pytest.mark.parametrize(("domain", "allowed", "silenced", "media", "reports"), [
    ("spam.example", False, False, False, False),
    ("a.b.SPAM.example.", False, False, False, False),
    ("spam.example:8443", False, False, False, False),
    ("notspam.example", True, False, True, True),
    ("social.rude.example", True, True, False, True),
    ("pics.example", True, False, True, False),
])
def test_a_block_covers_its_subdomains_and_nothing_else(domain, allowed, silenced, media, reports):
    assert RULES.allows(domain) is allowed
    assert RULES.silenced(domain) is silenced
    assert (not RULES.rejects_media(domain)) is media
    assert (not RULES.rejects_reports(domain)) is reports


def test_a_suspended_domain_is_refused_with_a_reason_even_in_the_network():
    assert RULES.refusal("x.spam.example") == "x.spam.example is suspended by this instance"
    assert RULES.refusal("inova.example") is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_changes_show_at_once_in_this_process_and_after_the_ttl_elsewhere(ctx):
    clock = Clock()
    here, elsewhere = DomainPolicy(ttl=5, monotonic=clock), DomainPolicy(ttl=5, monotonic=clock)
    assert (await here.load(ctx.database)).allows("spam.example")
    async with ctx.database.transaction() as session:
        await save_block(session, BlockEntry("spam.example", "suspend"), by=None, via="cli")
        assert here.cached() is not None  # not committed yet: still the old snapshot
    assert here.cached() is None
    assert not (await here.load(ctx.database)).allows("spam.example")
    # Another process's change (written straight to the table here: nothing tells this process)
    # shows once the snapshot is older than the TTL.
    async with ctx.database.transaction() as session:
        session.add(DomainBlock(domain="rude.example", severity="suspend"))
    clock.now = 4
    assert (await here.load(ctx.database)).allows("rude.example")
    clock.now = 6
    assert not (await here.load(ctx.database)).allows("rude.example")
    async with ctx.database.transaction() as session:
        await lift_block(session, "spam.example", by=None, via="cli")
    assert (await elsewhere.load(ctx.database)).allows("spam.example")
    assert (await here.load(ctx.database)).allows("spam.example")


async def test_allowlist_mode_reads_the_allowed_domains(ctx):
    policy = DomainPolicy("allowlist", allowed=frozenset({"static.example"}))
    rules = await policy.load(ctx.database)
    assert rules.allows("static.example") and not rules.allows("partner.example")
    assert "allowlist" in rules.refusal("partner.example")
    async with ctx.database.transaction() as session:
        await save_allow(session, "Partner.Example", by=None, via="cli")
    rules = await policy.load(ctx.database)
    assert rules.allows("social.partner.example") and not rules.allows("evilpartner.example")


async def test_suspended_remote_accounts_are_in_the_snapshot(ctx):
    eve = await add_remote_actor(ctx, "eve")
    async with ctx.database.transaction() as session:
        actor = await session.get(Actor, eve.id)
        actor.suspended_at = actor.created_at
        session.add(actor)
    rules = await DomainPolicy().load(ctx.database)
    assert rules.actor_refusal(eve.uri) and rules.actor_refusal("https://inova.test/users/other") is None


async def test_within_domains_matches_the_domain_and_subdomains_in_sql(ctx):
    for name, domain in (("a", "spam.example"), ("b", "x.spam.example"), ("c", "notspam.example"),
                         ("d", "spam_example")):
        await add_remote_actor(ctx, name, domain)
    async with ctx.database.session() as session:
        found = (await session.exec(select(Actor.username).where(
            within_domains(col(Actor.domain), ["spam.example"])).order_by(Actor.username))).all()
        assert found == ["a", "b"]
        underscore = (await session.exec(select(Actor.username).where(
            within_domains(col(Actor.domain), ["spam_example"])))).all()
        assert underscore == ["d"]

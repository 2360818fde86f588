"""`rounds blocklists …` as an administrator runs it: a real process and a real database.

Fetching a list between two real instances is in tests/flows/test_shared_blocklists.py; here the
source is unreachable, and the drafts to decide are written as a refresh would write them."""

import asyncio

import pytest
from sqlmodel import select

from storage.tables import BlocklistChange, BlocklistSubscription, DomainBlock
from tests.support.processes import rounds_env, run_rounds
from web.context import AppContext
from web.settings import Settings

HERE, SOURCE = "127.0.0.1:8125", "127.0.0.1:9"  # nothing listens on the discard port
LIST = f"http://{SOURCE}/blocklist"


@pytest.fixture
def env(new_database_url, tmp_path):
    network = tmp_path / "network.toml"
    network.write_text('name = "Hospital Network"\n'
                       f'[[members]]\nname = "Inova"\ndomain = "{HERE}"\n'
                       f'[[members]]\nname = "Mayo Clinic"\ndomain = "{SOURCE}"\n')
    env = rounds_env(new_database_url(empty=True), ROUNDS_DOMAIN=HERE, ROUNDS_NETWORK_FILE=str(network),
                     ROUNDS_ALLOW_PRIVATE_ADDRESSES="true")
    assert run_rounds("init", env=env, cwd=tmp_path).returncode == 0
    return env


def in_database(env, work):
    async def go():
        ctx = AppContext.build(Settings.from_env(env))
        try:
            async with ctx.database.transaction() as session:
                return await work(session)
        finally:
            await ctx.database.dispose()

    return asyncio.run(go())


def drafts_for(subscription_id: int, *domains: str):
    async def work(session):
        rows = [BlocklistChange(subscription_id=subscription_id, domain=domain, change="add",
                                entry={"severity": "suspend", "reject_media": True, "reject_reports": False,
                                       "public_comment": "", "obfuscate": False}) for domain in domains]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]

    return work


async def blocks(session):
    return {row.domain: row.subscription_id for row in (await session.exec(select(DomainBlock))).all()}


def test_subscribe_list_decide_drafts_and_unsubscribe(env, tmp_path):
    made = run_rounds("blocklists", "subscribe", LIST, env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "changes wait for approval" in made.stdout
    subscription_id = in_database(env, lambda session: _only_subscription(session))
    listing = run_rounds("blocklists", "list", env=env, cwd=tmp_path)
    assert listing.returncode == 0 and f"{subscription_id}" in listing.stdout and "never" in listing.stdout
    trusted = run_rounds("blocklists", "trust", str(subscription_id), env=env, cwd=tmp_path)
    assert trusted.returncode == 0 and f"{LIST} is trusted" in trusted.stdout
    assert in_database(env, _trusted) == [True]

    spam, other = in_database(env, drafts_for(subscription_id, "spam.example", "other.example"))
    changes = run_rounds("blocklists", "changes", env=env, cwd=tmp_path)
    assert [line.split()[1:4] for line in changes.stdout.splitlines()[1:]] == [
        ["pending", "add", "other.example"], ["pending", "add", "spam.example"]]
    assert "suspend reject_media" in changes.stdout
    approved = run_rounds("blocklists", "approve", str(spam), env=env, cwd=tmp_path)
    assert approved.returncode == 0 and "approved: add spam.example" in approved.stdout
    assert run_rounds("blocklists", "reject", str(other), env=env, cwd=tmp_path).returncode == 0
    assert in_database(env, blocks) == {"spam.example": subscription_id}
    twice = run_rounds("blocklists", "approve", str(other), env=env, cwd=tmp_path)
    assert twice.returncode == 1 and "is rejected, not pending" in twice.stderr
    decided = run_rounds("blocklists", "changes", "--state", "all", env=env, cwd=tmp_path)
    assert {line.split()[1] for line in decided.stdout.splitlines()[1:]} == {"applied", "rejected"}

    gone = run_rounds("blocklists", "unsubscribe", str(subscription_id), env=env, cwd=tmp_path)
    assert gone.returncode == 0 and "1 blocks from it kept" in gone.stdout
    assert in_database(env, blocks) == {"spam.example": None}


async def _trusted(session):
    return [row.trusted for row in (await session.exec(select(BlocklistSubscription))).all()]


async def _only_subscription(session):
    [row] = (await session.exec(select(BlocklistSubscription))).all()
    return row.id


def test_a_list_that_cannot_be_refreshed_is_an_error_and_is_shown_in_the_listing(env, tmp_path):
    assert run_rounds("blocklists", "subscribe", LIST, "--trusted", env=env, cwd=tmp_path).returncode == 0
    refreshed = run_rounds("blocklists", "refresh", env=env, cwd=tmp_path)
    assert refreshed.returncode == 1 and "1 of 1 blocklists could not be refreshed" in refreshed.stderr
    assert "failed: " in refreshed.stdout
    listing = run_rounds("blocklists", "list", env=env, cwd=tmp_path)
    assert "last error: " in listing.stdout and "never" not in listing.stdout


BAD_INPUT = [
    (["subscribe", "http://elsewhere.example/blocklist"], "not a member instance", 1),
    (["subscribe", "not a url"], "http(s) URL", 1),
    (["approve", "99999"], "no blocklist change 99999", 1),
    (["refresh", "99999"], "no blocklist subscription 99999", 1),
    (["approve", "first"], "is not an id", 2),
    (["changes", "--state", "maybe"], "invalid choice", 2),
]


def test_bad_input_is_one_clear_error_and_writes_nothing(env, tmp_path):
    for args, message, code in BAD_INPUT:
        result = run_rounds("blocklists", *args, env=env, cwd=tmp_path)
        assert result.returncode == code and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert in_database(env, lambda session: _count_subscriptions(session)) == 0


async def _count_subscriptions(session):
    return len((await session.exec(select(BlocklistSubscription))).all())

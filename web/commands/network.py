"""`rounds network show|check`: the network this instance belongs to, and whether its members agree."""

from __future__ import annotations

import argparse
from typing import Any

from actors.network_check import check_network
from moderation.network import Network
from web.commands import CommandError, require_migrated
from web.context import AppContext
from web.services import build_federation


def _network(ctx: AppContext) -> Network:
    if ctx.network is None:
        raise CommandError("this instance belongs to no network: set ROUNDS_NETWORK_FILE to the network's TOML file")
    return ctx.network


async def show(ctx: AppContext, _args: argparse.Namespace) -> int:
    network = _network(ctx)
    print(f"{network.name} (federation mode: {ctx.settings.federation_mode})")
    for member in network.members:
        here = "  (this instance)" if member.domain == ctx.urls.domain.lower() else ""
        contact = f"  <{member.contact}>" if member.contact else ""
        print(f"  {member.domain:<40} {member.name}{contact}{here}")
    if all(member.domain != ctx.urls.domain.lower() for member in network.members):
        print(f"warning: this instance ({ctx.urls.domain}) is not listed as a member")
    return 0


async def check(ctx: AppContext, _args: argparse.Namespace) -> int:
    network = _network(ctx)
    await require_migrated(ctx)
    federation = await build_federation(ctx)
    total, failed = len(network.members), 0
    print(f"checking {total} members of {network.name}", flush=True)
    try:
        checks = check_network(network, federation.fetcher, scheme="https" if ctx.settings.https else "http")
        number = 0
        async for result in checks:
            number += 1
            prefix = f"[{number}/{total}] {result.member.name} ({result.member.domain})"
            if result.ok:
                print(f"{prefix}: ok: {', '.join(result.passed)}", flush=True)
            else:
                failed += 1
                print(f"{prefix}: PROBLEM: {'; '.join(result.problems)}", flush=True)
    finally:
        await federation.client.aclose()
    print(f"{total - failed} of {total} members ok" + (f", {failed} with problems" if failed else ""))
    return 1 if failed else 0


def register(commands: Any) -> None:
    network = commands.add_parser("network", help="the network of member instances (ROUNDS_NETWORK_FILE)")
    actions = network.add_subparsers(dest="network_command", required=True, metavar="ACTION")
    actions.add_parser("show", help="list the network's members").set_defaults(handler=show, needs_context=True)
    actions.add_parser(
        "check", help="check that every member answers NodeInfo and WebFinger, has a fetchable key, "
        "and lists the same network (exit 1 when one does not)",
    ).set_defaults(handler=check, needs_context=True)

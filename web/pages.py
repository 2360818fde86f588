"""HTML pages for people with a browser: the instance's front page and profiles."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import nh3
from sqlalchemy import func
from sqlmodel import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import find_local_actor
from storage.tables import Actor, Follow, User
from web.context import context_of

if TYPE_CHECKING:
    from starlette.templating import Jinja2Templates

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _templates() -> Jinja2Templates:
    """Made for the first page asked for: Jinja2 is about 2.4 MB of a process that may answer
    only the API and ActivityPub (tests/test_architecture.py keeps it out until then)."""
    from starlette.templating import Jinja2Templates

    return Jinja2Templates(directory=str(TEMPLATES))


def render(request: Request, template: str, status_code: int = 200, **values: object) -> Response:
    ctx = context_of(request)
    values.setdefault("instance_name", ctx.settings.instance_name)
    values.setdefault("domain", ctx.urls.domain)
    return _templates().TemplateResponse(
        request, template, values, status_code=status_code
    )


async def home(request: Request) -> Response:
    ctx = context_of(request)
    async with ctx.database.session() as session:
        people = (await session.exec(
            select(func.count()).select_from(User).where(User.approved, ~User.disabled)
        )).one()
    return render(request, "home.html", people=people, network=ctx.network,
                  registrations=ctx.settings.registrations)


async def profile_page(request: Request, person: Actor) -> Response:
    async with context_of(request).database.session() as session:
        counts = {}
        for name, column in (("followers", Follow.followee_id), ("following", Follow.follower_id)):
            counts[name] = (await session.exec(
                select(func.count()).select_from(Follow)
                .where(column == person.id, Follow.state == "accepted")
            )).one()
    return render(
        request, "profile.html",
        person=person,
        summary_html=nh3.clean(person.summary),
        counts=None if person.hide_collections else counts,
    )


async def profile_by_handle(request: Request) -> Response:
    username = request.path_params["username"]
    async with context_of(request).database.session() as session:
        person = await find_local_actor(session, username)
    if person is None:
        raise HTTPException(404, f"no account named {username!r} here")
    if person.suspended_at is not None:
        raise HTTPException(410, f"the account {username!r} is suspended")
    return await profile_page(request, person)


routes = [
    Route("/", home),
    Route("/about", home, name="about"),
    Route("/@{username}", profile_by_handle),
]

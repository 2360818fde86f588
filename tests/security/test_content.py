"""Hostile markup from remote posts and profiles: only the allow-list gets out, and the sanitiser
never crashes (checklist G1, G2, D9).

The post travels the whole way: signed Create → inbox → worker → stream event and client API entity. The
profile travels as a fetched actor document. Local markup is checked on the HTML page.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from actors.accounts import find_local_account
from federation.html import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES, clean_html, clean_text
from storage.tables import Actor
from tests.security.conftest import INOVA, MAYO
from tests.security.wire import create, deliver, signed_by
from tests.support.actions import follow, status_on
from tests.support.api import bearer
from tests.support.streams import event_source, serving

BO = f"https://{INOVA}/users/dr_bo"

HOSTILE = [
    "<script>alert('x')</script>",
    "<style>body{display:none}</style>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt&#58;alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<a href="vbscript:msgbox(1)" onclick="alert(1)">vb</a>',
    '<iframe src="https://evil.test"></iframe>',
    '<svg><script>alert(1)</script></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    '<form action="https://evil.test"><input name="password"></form>',
    '<p style="background:url(javascript:alert(1))" class="evil">styled</p>',
    '<b><i><u>unclosed <a href="https://ok.test">ok',
    '</p></p><p><<script>script>alert(1)<</script>/script>',
    '<!--<script>alert(1)</script>-->',
    '<object data="x.swf"></object><embed src="x.swf">',
    '<meta http-equiv="refresh" content="0;url=https://evil.test">',
    '<base href="https://evil.test/">',
    '<a href="https://ok.test" target="_blank" rel="opener">opener</a>',
    "<p>" * 2000 + "deep" + "</p>" * 2000,
]


class Markup(HTMLParser):
    """Every tag, attribute and link target of a piece of HTML, for checking against the allow-list."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | {"class", "rel"}
            if name not in allowed:
                self.problems.append(f"attribute {name} on <{tag}>")
            if name == "href" and value and ":" in value.split("/")[0]:
                if value.split(":", 1)[0].lower() not in URL_SCHEMES:
                    self.problems.append(f"link to {value}")
        if tag == "a" and dict(attrs).get("rel") != "nofollow noopener noreferrer":
            self.problems.append("a link without rel=nofollow noopener noreferrer")

    handle_startendtag = handle_starttag


async def local_account(node, username: str):
    async with node.ctx.database.session() as session:
        return await find_local_account(session, username)


def problems_in(html: str) -> list[str]:
    parser = Markup()
    parser.feed(html)
    parser.close()
    # Links and attributes are the parser's part; as plain text `javascript:` is harmless, but a
    # raw `<script` or `<style` would mean markup got through unescaped.
    lowered = html.lower()
    return parser.problems + [f"text {word}" for word in ("<script", "<style") if word in lowered]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_markup_is_reduced_to_the_allow_list(hostile):
    assert problems_in(clean_html(hostile)) == []
    assert "<" not in clean_text(hostile)


@pytest.mark.parametrize("hostile", HOSTILE[:3])
def test_a_remembered_cleaning_is_the_same_answer(hostile):
    clean_html.cache_clear()
    first = clean_html(hostile)
    assert clean_html.cache_info().hits == 0
    assert clean_html((hostile + " ")[:-1]) == first and problems_in(first) == []  # an equal string, asked again
    assert clean_html.cache_info().hits == 1


async def test_hostile_post_is_clean_in_the_client_api(network):
    (mayo, inova, _), drain = network
    await follow(mayo, "ann", BO)
    await drain()
    content = "".join(HOSTILE[:-1])
    body = create(BO, f"{BO}/statuses/1", text=content, summary='<b onmouseover="x()">cw</b><script>1</script>',
                  attachment=[{"type": "Document", "mediaType": "image/png", "url": f"https://{INOVA}/m/1.png",
                               "name": '<img src=x onerror="alert(1)">alt'}])
    inbox = f"https://{MAYO}/inbox"
    headers = await bearer(mayo.ctx, await local_account(mayo, "ann"))
    async with serving(mayo.app) as base_url, \
            event_source(base_url, "/api/v1/streaming/user", headers["Authorization"].removeprefix("Bearer ")) as home:
        assert (await deliver(mayo, inbox, body, await signed_by(inova, "dr_bo", inbox, body))).status_code == 202
        await drain()
        streamed = (await home.until("update")).json
    assert problems_in(streamed["content"]) == [] and "<" not in streamed["spoiler_text"]
    stored = await status_on(mayo, f"{BO}/statuses/1")
    assert stored is not None and problems_in(stored.content) == []
    entity = (await mayo.client.get(f"/api/v1/statuses/{stored.id}", headers=headers)).json()
    assert problems_in(entity["content"]) == []
    assert "<" not in entity["spoiler_text"]
    for media in entity["media_attachments"]:
        assert "<" not in (media["description"] or "")
    timeline = (await mayo.client.get("/api/v1/timelines/home", headers=headers)).json()
    assert [problems_in(item["content"]) for item in timeline] == [[]]


async def test_hostile_remote_profile_is_clean_in_the_client_api(network):
    (mayo, inova, _), drain = network
    async with inova.ctx.database.transaction() as session:
        bo = (await session.exec(select(Actor).where(Actor.uri == BO))).one()
        bo.summary = "".join(HOSTILE[:-1])
        bo.display_name = '<script>alert(1)</script>Dr <b>Bo</b>'
        session.add(bo)
    remote = await mayo.remote(BO)
    assert problems_in(remote.summary) == []
    headers = await bearer(mayo.ctx, await local_account(mayo, "ann"))
    entity = (await mayo.client.get(f"/api/v1/accounts/{remote.id}", headers=headers)).json()
    assert problems_in(entity["note"]) == []
    assert "<" not in entity["display_name"]


async def test_hostile_local_profile_is_clean_on_the_html_page(network):
    (mayo, _, _), _ = network
    async with mayo.ctx.database.transaction() as session:
        ann = await mayo.local("ann")
        ann = await session.merge(ann)
        ann.summary = "".join(HOSTILE[:-1])
        session.add(ann)
    page = await mayo.client.get("/@ann")
    assert page.status_code == 200
    start = page.text.find('<div class="summary">')
    assert start != -1
    summary = page.text[start:page.text.find("</div>", start)]
    lowered = summary.lower()
    for word in ("<script", "javascript:", "onerror", "<style", "<iframe", "<form", "<svg", "<math", "data:text"):
        assert word not in lowered, word


# --- the sanitiser never crashes (D9) ----------------------------------------------------------

FRAGMENTS = ["<", ">", "</", "/>", "<p>", "</p>", "<a href='", "javascript:", "'", '"', "=", "<script>",
             "</script>", "<math>", "<svg>", "<style>", "<!--", "-->", "<![CDATA[", "]]>", "&", "&#", ";", "x",
             "\x00", "\ud7ff", "\U0001f600", " onerror=", "<img src=x", "<table>", "<select>", "<template>",
             "<noscript>", "<textarea>", "<xmp>", "<plaintext>", "<a href=data:", "\n", "\t"]
markup = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=60).map("".join)


@settings(max_examples=60, deadline=None)
@given(markup)
def test_clean_html_never_crashes_and_leaves_only_the_allow_list(html):
    cleaned = clean_html(html)
    assert isinstance(cleaned, str)
    assert problems_in(cleaned) == []


@settings(max_examples=60, deadline=None)
@given(markup, st.integers(min_value=0, max_value=200))
def test_clean_text_never_crashes_and_leaves_no_markup(text, limit):
    cleaned = clean_text(text, limit=limit)
    assert "<" not in cleaned

"""Remote HTML, cleaned against an allow-list (Mastodon's set) with Ammonia (nh3). Pure: no I/O.

Used on the way in (stored content is already clean) and again on the way out. On the way out
the same posts are rendered again and again (every reader's timeline, every page), so the
answers are remembered for the last `REMEMBERED` inputs: Ammonia parses and rebuilds the
whole fragment, which was about a tenth of a home-timeline request's CPU (bench profile).
"""

from __future__ import annotations

from functools import lru_cache

import nh3

ALLOWED_TAGS = {"p", "br", "span", "a", "del", "s", "pre", "code", "em", "strong", "b", "i", "u",
                "ul", "ol", "li", "blockquote"}
# `class` is governed by ALLOWED_CLASSES (Ammonia refuses it in both places).
ALLOWED_ATTRIBUTES = {"a": {"href", "translate"}, "span": {"translate"},
                      "ol": {"start", "reversed"}, "li": {"value"}}
ALLOWED_CLASSES = {"a": {"mention", "hashtag", "u-url", "h-card"},
                   "span": {"h-card", "invisible", "ellipsis", "mention", "hashtag"}}
URL_SCHEMES = {"http", "https", "mailto", "xmpp", "gemini", "matrix"}
MAX_INPUT = 500_000  # characters; longer remote HTML is cut before parsing
REMEMBERED = 2048  # inputs per function; at a typical post's size, about 2 MB


@lru_cache(maxsize=REMEMBERED)
def clean_html(html: str) -> str:
    if not html:
        return ""
    return nh3.clean(
        html[:MAX_INPUT],
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


@lru_cache(maxsize=REMEMBERED)
def clean_text(text: str, limit: int = 5_000) -> str:
    """A plain-text field (a name, a summary used as a content warning): no markup at all."""
    if not text:
        return ""
    return nh3.clean(text[:limit], tags=set(), attributes={}).strip()

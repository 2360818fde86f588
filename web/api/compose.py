"""What a person types becomes a post's HTML, the way Mastodon's TextFormatter does it.

Pure: `scan` finds the mentions and hashtags, the caller looks the handles up, and `to_html`
renders with what was found. `countable_length` is Mastodon's StatusLengthValidator count;
`to_text` turns our own HTML back into the text it came from (the `text` of a deleted post).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

# Mastodon's username shape (Account::USERNAME_RE), and a domain after a second `@`. The
# look-behind keeps e-mail addresses and URL paths from reading as mentions. A domain may carry
# a port (instances side by side on one machine are `127.0.0.1:PORT`); `@a@b.org: hi` keeps
# its colon, since a port needs digits.
_MENTION = (r"(?<![/\w])@(?P<user>[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)"
            r"(?:@(?P<domain>[\w-]+(?:\.[\w-]+)+(?::\d{1,5}(?!\w))?))?")
# A hashtag needs one letter, so `#1` stays text (Mastodon's Tag::HASHTAG_RE).
_HASHTAG = r"(?<![=/)\w])#(?P<tag>\w*[^\W\d_]\w*)"
_URL = r"(?<![\w@])(?P<url>https?://[^\s<>\"]+)"
_TOKENS = re.compile(f"{_URL}|{_MENTION}|{_HASHTAG}", re.IGNORECASE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Punctuation that ends a sentence rather than a URL ("see https://x.org/a.").
_URL_TAIL = ".,:;!?'\"*"
URL_LENGTH = 23  # every URL counts this much, whatever its length (Mastodon, Twitter)


@dataclass(frozen=True)
class Handle:
    """`@user` (domain None) or `@user@domain`, as written."""

    username: str
    domain: str | None

    @property
    def key(self) -> tuple[str, str | None]:
        return self.username.lower(), self.domain.lower() if self.domain else None


@dataclass(frozen=True)
class MentionTarget:
    """A known account a handle names: where its link points and the name it shows."""

    url: str
    username: str


@dataclass(frozen=True)
class Scanned:
    handles: tuple[Handle, ...]
    hashtags: tuple[str, ...]  # lower-cased, first occurrence first, as StatusTag stores them


def _trim_url(url: str) -> str:
    """Drop trailing sentence punctuation and a closing bracket the URL did not open."""
    while url:
        if url[-1] in _URL_TAIL:
            url = url[:-1]
        elif url[-1] == ")" and url.count(")") > url.count("("):
            url = url[:-1]
        else:
            break
    return url


def _tokens(text: str) -> list[tuple[int, int, re.Match[str]]]:
    """The (start, end, match) of every URL, mention and hashtag, URLs trimmed."""
    found = []
    for match in _TOKENS.finditer(text):
        start, end = match.span()
        if match.group("url"):
            end = start + len(_trim_url(match.group("url")))
            if end - start <= len("https://"):
                continue
        found.append((start, end, match))
    return found


def scan(text: str) -> Scanned:
    handles: dict[tuple[str, str | None], Handle] = {}
    tags: dict[str, None] = {}
    for _, _, match in _tokens(text):
        if match.group("user"):
            handle = Handle(match.group("user"), match.group("domain"))
            handles.setdefault(handle.key, handle)
        elif match.group("tag"):
            tags.setdefault(match.group("tag").lower(), None)
    return Scanned(handles=tuple(handles.values()), hashtags=tuple(tags))


def _link_url(url: str) -> str:
    # The scheme hidden and long URLs cut, with the classes Mastodon's clients style.
    scheme, _, rest = url.partition("://")
    visible, hidden = rest[:30], rest[30:]
    shown = (f'<span class="invisible">{escape(scheme)}://</span>'
             f'<span class="{"ellipsis" if hidden else ""}">{escape(visible)}</span>'
             f'<span class="invisible">{escape(hidden)}</span>')
    return f'<a href="{escape(url)}" rel="nofollow noopener" target="_blank" translate="no">{shown}</a>'


def _link_mention(target: MentionTarget) -> str:
    return (f'<span class="h-card" translate="no"><a href="{escape(target.url)}" class="u-url mention">'
            f"@<span>{escape(target.username)}</span></a></span>")


def _link_hashtag(name: str, base_url: str) -> str:
    return (f'<a href="{escape(base_url)}/tags/{escape(name.lower())}" class="mention hashtag" rel="tag">'
            f"#<span>{escape(name)}</span></a>")


def _line_html(line: str, base_url: str, mentions: Mapping[tuple[str, str | None], MentionTarget]) -> str:
    parts: list[str] = []
    position = 0
    for start, end, match in _tokens(line):
        rendered = None
        if match.group("url"):
            rendered = _link_url(line[start:end])
        elif match.group("user"):
            target = mentions.get(Handle(match.group("user"), match.group("domain")).key)
            rendered = _link_mention(target) if target else None
        else:
            rendered = _link_hashtag(match.group("tag"), base_url)
        if rendered is None:
            continue  # an unknown handle stays text
        parts.append(escape(line[position:start]))
        parts.append(rendered)
        position = end
    parts.append(escape(line[position:]))
    return "".join(parts)


def to_html(text: str, base_url: str,
            mentions: Mapping[tuple[str, str | None], MentionTarget] | None = None) -> str:
    """Paragraphs on blank lines, `<br>` on single newlines, URLs, known mentions and
    hashtags linked; everything else escaped. `mentions` is keyed by `Handle.key`."""
    known = mentions or {}
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    paragraphs = _PARAGRAPH_BREAK.split(text)
    return "".join(
        "<p>" + "<br>".join(_line_html(line, base_url, known) for line in paragraph.split("\n")) + "</p>"
        for paragraph in paragraphs
    )


def _graphemes(text: str) -> int:
    """User-perceived characters, near enough to Ruby's `each_grapheme_cluster` for a length
    limit: combining marks, variation selectors, skin tones and whatever follows a zero-width
    joiner belong to the character before them, and a pair of regional indicators (a flag)
    counts once."""
    count = 0
    after_joiner = False
    open_flag = False
    for char in text:
        code = ord(char)
        if after_joiner or code == 0x200D or unicodedata.combining(char) \
                or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF:
            after_joiner = code == 0x200D
            continue
        is_flag = 0x1F1E6 <= code <= 0x1F1FF
        if is_flag and open_flag:
            open_flag = False
            continue
        open_flag = is_flag
        count += 1
    return count


def countable_length(text: str) -> int:
    """Mastodon's count: a URL is 23 characters and `@user@domain` counts as `@user`."""
    pieces: list[str] = []
    position = 0
    for start, end, match in _tokens(text):
        if match.group("url"):
            replacement = "x" * URL_LENGTH
        elif match.group("user"):
            replacement = "@" + match.group("user")
        else:
            continue
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return _graphemes("".join(pieces))


class _TextParser(HTMLParser):
    def __init__(self, accts: Mapping[str, str]) -> None:
        super().__init__(convert_charrefs=True)
        self.accts = accts
        self.out: list[str] = []
        self.paragraphs = 0
        self.skip_depth = 0  # inside a mention link: its text is replaced by the full handle

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_depth:
            self.skip_depth += tag != "br"
            return
        if tag == "p":
            if self.paragraphs:
                self.out.append("\n\n")
            self.paragraphs += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "a":
            found = dict(attrs)
            classes = (found.get("class") or "").split()
            acct = self.accts.get(found.get("href") or "")
            if "mention" in classes and "hashtag" not in classes and acct:
                self.out.append(f"@{acct}")
                self.skip_depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            self.skip_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.out.append(data)


def to_text(html: str, accts: Mapping[str, str] | None = None) -> str:
    """Plain text back from `to_html`'s output; `accts` maps a mention link's href to the
    `user` or `user@domain` it was written as (the link itself shows only `@user`)."""
    parser = _TextParser(accts or {})
    parser.feed(html)
    parser.close()
    return "".join(parser.out)

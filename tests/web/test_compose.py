"""Plain text to a post's HTML, Mastodon's way: paragraphs, links, mentions, hashtags, the count."""

from __future__ import annotations

import pytest

from federation.html import clean_html
from web.api.compose import Handle, MentionTarget, countable_length, scan, to_html, to_text

BASE = "https://mayo.test"
ANN = MentionTarget(url="https://mayo.test/@ann", username="ann")
BOB = MentionTarget(url="https://inova.test/@bob", username="bob")
KNOWN = {("ann", None): ANN, ("bob", "inova.test"): BOB}


def test_blank_lines_make_paragraphs_and_single_newlines_make_breaks():
    text = "first line\nsecond line\n\n\nnew paragraph\r\n\r\nlast"
    assert to_html(text, BASE) == "<p>first line<br>second line</p><p>new paragraph</p><p>last</p>"


def test_markup_and_entities_typed_by_a_person_are_escaped():
    html = to_html('<script>alert("x")</script> & <b>bold</b>', BASE)
    assert html == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;</p>"


def test_urls_are_linked_without_their_trailing_punctuation_or_an_unopened_bracket():
    html = to_html("read https://example.org/a?b=1&c=2. (also https://x.org/wiki/A_(b)) ok", BASE)
    assert '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener" target="_blank"' in html
    assert '<a href="https://x.org/wiki/A_(b)" rel="nofollow noopener" target="_blank"' in html
    assert html.endswith("</a>) ok</p>")
    assert "</a>. (also" in html


def test_a_long_url_shows_its_start_and_hides_the_scheme_and_the_rest():
    url = "https://example.org/" + "a" * 60
    html = to_html(url, BASE)
    assert '<span class="invisible">https://</span>' in html
    assert f'<span class="ellipsis">{("example.org/" + "a" * 60)[:30]}</span>' in html


def test_known_mentions_become_h_cards_and_unknown_ones_stay_text():
    html = to_html("hi @ann, @bob@inova.test and @nobody@elsewhere.test", BASE, KNOWN)
    assert ('<span class="h-card" translate="no"><a href="https://mayo.test/@ann" class="u-url mention">'
            "@<span>ann</span></a></span>") in html
    assert ('<a href="https://inova.test/@bob" class="u-url mention">@<span>bob</span></a>') in html
    assert "@nobody@elsewhere.test" in html and "nobody</span>" not in html


def test_mentions_are_matched_without_regard_to_case():
    html = to_html("@ANN and @Bob@INOVA.test", BASE, KNOWN)
    assert html.count('class="u-url mention"') == 2


def test_hashtags_link_to_the_local_tag_page_in_lower_case_and_show_as_written():
    html = to_html("Our #WardFour update, not #1 nor x#y", BASE)
    assert ('<a href="https://mayo.test/tags/wardfour" class="mention hashtag" rel="tag">'
            "#<span>WardFour</span></a>") in html
    assert "#1" in html and "x#y" in html and html.count("hashtag") == 1


def test_scan_finds_handles_and_hashtags_once_each_in_order_and_skips_email_and_url_parts():
    scanned = scan("@ann @bob@inova.test @Ann #Tea #tea #Cake mail me@example.org "
                   "https://example.org/@carl#frag")
    assert scanned.handles == (Handle("ann", None), Handle("bob", "inova.test"))
    assert scanned.hashtags == ("tea", "cake")


def test_the_rendered_html_survives_the_sanitizer_clients_see():
    html = to_html("@ann see https://example.org and #tea", BASE, KNOWN)
    cleaned = clean_html(html)
    assert 'class="u-url mention"' in cleaned and 'class="h-card"' in cleaned
    assert 'class="mention hashtag"' in cleaned and 'class="invisible"' in cleaned


@pytest.mark.parametrize(("text", "length"), [
    ("hello", 5),
    ("see https://example.org/" + "a" * 200, 4 + 23),
    ("@bob@inova.test", 4),
    ("🇫🇷", 1),
    ("👍🏽", 1),
    ("👨‍👩‍👧", 1),
    ("e\u0301", 1),
    ("", 0),
])
def test_length_counts_like_mastodon(text, length):
    assert countable_length(text) == length


def test_html_reads_back_into_the_text_it_came_from():
    text = "hi @ann and @bob@inova.test!\nsee https://example.org/" + "b" * 40 + " #Tea <3\n\nbye & thanks"
    html = to_html(text, BASE, KNOWN)
    assert to_text(html, {ANN.url: "ann", BOB.url: "bob@inova.test"}) == text


def test_a_handle_may_name_a_port_but_a_colon_after_a_domain_stays_text():
    assert scan("@dr_bo@127.0.0.1:8123 thanks").handles == (Handle("dr_bo", "127.0.0.1:8123"),)
    assert scan("@ann@mayo.test: see you").handles == (Handle("ann", "mayo.test"),)
    assert scan("@ann@mayo.test:8x").handles == (Handle("ann", "mayo.test"),)

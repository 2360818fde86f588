"""Parsing untrusted ActivityStreams documents."""

import pytest

from federation.documents import DocumentError, host_of, parse_actor, parse_note
from federation.html import clean_html

ACTOR = {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
                 {"gts": "https://gotosocial.org/ns#"}, "https://w3id.org/security/data-integrity/v1"],
    "id": "https://inova.example/users/bo", "type": "Person", "preferredUsername": "bo",
    "name": "Dr <b>Bo</b>", "summary": "<p>Cardiology</p><script>x()</script>",
    "inbox": "https://inova.example/users/bo/inbox", "outbox": "https://inova.example/users/bo/outbox",
    "followers": "https://inova.example/users/bo/followers",
    "endpoints": {"sharedInbox": "https://inova.example/inbox"},
    "publicKey": {"id": "https://inova.example/users/bo#main-key", "owner": "https://inova.example/users/bo",
                  "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n..."},
    "manuallyApprovesFollowers": False, "proof": {"type": "DataIntegrityProof"},
}


def test_actor_document_with_extra_contexts_parses_and_is_sanitised():
    actor = parse_actor(ACTOR)
    assert actor.uri == "https://inova.example/users/bo"
    assert actor.shared_inbox == "https://inova.example/inbox"
    assert actor.key_id == "https://inova.example/users/bo#main-key"
    assert actor.display_name == "Dr Bo"
    assert actor.summary == "<p>Cardiology</p>"


def test_profile_fields_and_pictures_are_read_and_cleaned():
    actor = parse_actor(ACTOR | {
        "attachment": [
            {"type": "PropertyValue", "name": "Pronouns", "value": "he/him"},
            {"type": "PropertyValue", "name": "Site <i>x</i>",
             "value": '<a href="https://inova.example" onclick="steal()">inova.example</a><script>x()</script>'},
            {"type": "IdentityProof", "name": "not a field"},
            {"type": "PropertyValue", "name": ["not", "text"], "value": "skipped"},
            *({"type": "PropertyValue", "name": f"f{n}", "value": "v"} for n in range(40)),
        ],
        "icon": {"type": "Image", "mediaType": "image/png", "url": "https://inova.example/a.png"},
        "image": [{"type": "Image", "url": {"type": "Link", "href": "https://inova.example/h.jpg"}}],
    })
    assert actor.fields[0] == ("Pronouns", "he/him")
    name, value = actor.fields[1]
    assert name == "Site x" and "onclick" not in value and "<script>" not in value
    assert 'href="https://inova.example"' in value
    assert len(actor.fields) == 16  # the rest are cut, not refused
    assert (actor.avatar, actor.header) == ("https://inova.example/a.png", "https://inova.example/h.jpg")
    bare = parse_actor(ACTOR | {"icon": "javascript:alert(1)", "attachment": "nonsense"})
    assert (bare.avatar, bare.header, bare.fields) == (None, None, ())


@pytest.mark.parametrize(("change", "message"), [
    ({"inbox": "https://evil.example/inbox"}, "inbox"),
    ({"publicKey": {"id": "https://evil.example/k", "owner": "https://inova.example/users/bo",
                    "publicKeyPem": "x"}}, "publicKey.id"),
    ({"publicKey": {"id": "https://inova.example/users/bo#k", "owner": "https://inova.example/users/eve",
                    "publicKeyPem": "x"}}, "owner"),
    ({"type": "Note"}, "not an actor type"),
    ({"preferredUsername": None}, "preferredUsername"),
    ({"id": "javascript:alert(1)"}, "http"),
])
def test_actor_document_that_claims_foreign_parts_is_refused(change, message):
    with pytest.raises(DocumentError, match=message):
        parse_actor(ACTOR | change)


def test_note_reads_addressing_tags_attachments_and_content_warning():
    note = parse_note({
        "id": "https://inova.example/users/bo/statuses/1", "type": "Note",
        "attributedTo": "https://inova.example/users/bo",
        "contentMap": {"es": "<p>Hola <a href='javascript:x'>x</a></p>"},
        "summary": "medication", "inReplyTo": {"id": "https://mayo.example/users/ann/statuses/9"},
        "to": ["https://inova.example/users/bo/followers"], "cc": ["https://mayo.example/users/ann"],
        "tag": [{"type": "Mention", "href": "https://mayo.example/users/ann"},
                {"type": "Hashtag", "name": "#Asthma"}] + [{"type": "Hashtag", "name": f"#t{i}"} for i in range(200)],
        "attachment": [{"type": "Document", "mediaType": "image/png", "url": "https://inova.example/m/1.png",
                        "name": "chart", "width": 10, "height": 20}],
    })
    assert note.language == "es" and note.content == '<p>Hola <a rel="nofollow noopener noreferrer">x</a></p>'
    assert note.sensitive and note.summary == "medication"
    assert note.in_reply_to == "https://mayo.example/users/ann/statuses/9"
    assert note.visibility("https://inova.example/users/bo/followers") == "private"
    assert note.mentions == ("https://mayo.example/users/ann",)
    assert note.hashtags[0] == "asthma" and len(note.hashtags) == 63  # 64 tags read, one a mention
    assert note.attachments[0].description == "chart" and note.attachments[0].width == 10


@pytest.mark.parametrize(("to", "cc", "visibility"), [
    (["https://www.w3.org/ns/activitystreams#Public"], [], "public"),
    (["as:Public"], [], "public"),
    (["F"], ["Public"], "unlisted"),
    (["F"], [], "private"),
    (["https://mayo.example/users/ann"], [], "direct"),
])
def test_visibility_follows_mastodons_reading_of_addressing(to, cc, visibility):
    note = parse_note({"id": "https://i.example/n/1", "type": "Note", "attributedTo": "https://i.example/u",
                       "to": to, "cc": cc})
    assert note.visibility("F") == visibility


@pytest.mark.parametrize("uri", ["https://user:pw@host.example/x", "ftp://host.example/x", "https:///nohost",
                                 "https://host.example:99999/"])
def test_host_parsing_refuses_tricks(uri):
    with pytest.raises(DocumentError):
        host_of(uri)


def test_host_is_lower_cased_without_trailing_dot():
    assert host_of("https://Mayo.Example./users/a") == "mayo.example"
    assert host_of("http://127.0.0.1:8001/x") == "127.0.0.1:8001"


@pytest.mark.parametrize("hostile", ["<img src=x onerror=alert(1)>", "<<script>script>", "<a href='data:text/html,x'>",
                                     "<svg><style>*{}</style></svg>", "\x00<p>", "<p>" * 10000])
def test_hostile_markup_never_survives_or_crashes_the_sanitiser(hostile):
    cleaned = clean_html(hostile)
    assert "onerror" not in cleaned and "<script" not in cleaned and "data:" not in cleaned and "<svg" not in cleaned

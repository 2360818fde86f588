"""Polls on the wire: the Question we write reads back as the same poll, and the shapes other
servers send (Mastodon's `closed` date, `true`, no `votersCount`) are read, or refused by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from federation.documents import DocumentError, parse_question, parse_vote
from outbox.documents import note_document
from storage.tables import Actor, Poll, PollOption, Status

AUTHOR = Actor(id=1, uri="https://mayo.test/users/ann", username="ann", username_key="ann",
               inbox_uri="https://mayo.test/users/ann/inbox", key_id="https://mayo.test/users/ann#main-key",
               followers_uri="https://mayo.test/users/ann/followers")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def question(*, multiple: bool, ends: datetime) -> dict:
    status = Status(id=7, uri="https://mayo.test/users/ann/statuses/7", actor_id=1, local=True,
                    visibility="public", content="<p>Lunch?</p>", created_at=NOW)
    poll = Poll(id=9, status_id=7, multiple=multiple, expires_at=ends, voters_count=3)
    options = [PollOption(poll_id=9, position=0, title="Soup & bread", votes_count=2),
               PollOption(poll_id=9, position=1, title="Salad", votes_count=1)]
    return note_document(status, AUTHOR, mention_uris=[], hashtags=[], attachments=[],
                         tag_url="https://mayo.test/tags/{name}", poll=(poll, options, NOW))


@pytest.mark.parametrize("multiple", [False, True])
def test_the_question_we_write_reads_back_as_the_same_poll(multiple):
    document = question(multiple=multiple, ends=NOW + timedelta(hours=1))
    assert document["type"] == "Question" and ("anyOf" in document) is multiple
    parsed = parse_question(document)
    assert parsed.multiple is multiple
    assert [(o.title, o.votes_count) for o in parsed.options] == [("Soup & bread", 2), ("Salad", 1)]
    assert parsed.expires_at == NOW + timedelta(hours=1) and parsed.voters_count == 3
    assert "closed" not in document


def test_an_ended_poll_says_closed():
    document = question(multiple=False, ends=NOW - timedelta(minutes=5))
    assert document["closed"] == document["endTime"]
    assert parse_question(document).expires_at == NOW - timedelta(minutes=5)


def test_closed_true_and_missing_counts_are_read():
    parsed = parse_question({"type": "Question", "closed": True, "endTime": "2026-01-02T03:04:05Z",
                             "oneOf": [{"type": "Note", "name": "Yes"}, {"type": "Note", "name": "No",
                                                                         "replies": {"totalItems": -4}}]})
    assert [(o.title, o.votes_count) for o in parsed.options] == [("Yes", 0), ("No", 0)]
    assert parsed.expires_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) and parsed.voters_count is None


@pytest.mark.parametrize("document", [{"type": "Question"}, {"type": "Question", "oneOf": [{"type": "Note"}]}])
def test_a_question_without_named_options_is_refused(document):
    with pytest.raises(DocumentError):
        parse_question(document)


def test_a_vote_is_a_named_note_answering_the_question():
    vote = parse_vote({"id": "https://inova.test/users/bo#votes/1", "type": "Note", "name": "Salad",
                       "attributedTo": "https://inova.test/users/bo",
                       "inReplyTo": "https://mayo.test/users/ann/statuses/7"})
    assert vote is not None and (vote.choice, vote.question) == ("Salad", "https://mayo.test/users/ann/statuses/7")
    assert parse_vote({"id": "https://inova.test/n/2", "type": "Note", "content": "a reply",
                       "attributedTo": "https://inova.test/users/bo",
                       "inReplyTo": "https://mayo.test/users/ann/statuses/7"}) is None

"""Stream names, paths, scopes and the `stream` arrays events carry, as Mastodon's streaming
server maps them; and the SSE framing Mastodon.py parses. Pure: no server."""

from __future__ import annotations

import json

import pytest

from web.streaming.channels import Channel, ChannelError, channel_at, channel_named
from web.streaming.render import Message
from web.streaming.sse import frame


@pytest.mark.parametrize(("path", "params", "name"), [
    ("user", {}, "user"),
    ("user/notification", {}, "user:notification"),
    ("public", {}, "public"),
    ("public", {"only_media": "true"}, "public:media"),
    ("public/local", {"only_media": "1"}, "public:local:media"),
    ("public/remote", {}, "public:remote"),
    ("hashtag/local", {"tag": "Caregivers"}, "hashtag:local"),
    ("direct", {}, "direct"),
])
def test_sse_paths_name_mastodons_channels(path, params, name):
    assert channel_at(path, params).name == name


def test_tags_and_lists_are_part_of_the_stream_name_as_the_client_spelled_them():
    tagged = channel_named("hashtag", {"tag": "#Caregivers"})
    assert tagged.stream == ["hashtag", "Caregivers"]
    assert tagged.key == channel_named("hashtag", {"tag": "caregivers"}).key  # the same subscription
    assert channel_named("list", {"list": "42"}).stream == ["list", "42"]
    assert channel_named("public:local", {}).stream == ["public:local"]


@pytest.mark.parametrize(("name", "params", "message"), [
    ("everything", {}, "Unknown channel requested"),
    ("hashtag", {}, "No tag for stream provided"),
    ("list", {"list": "forty-two"}, "No list for stream provided"),
])
def test_bad_subscriptions_say_why(name, params, message):
    with pytest.raises(ChannelError) as refused:
        channel_named(name, params)
    assert (refused.value.message, refused.value.status) == (message, 400)


def test_each_channel_needs_its_scope_and_filters_in_its_timelines_context():
    assert Channel("user").scope == "read:statuses" and Channel("user").context == "home"
    assert Channel("user:notification").scope == "read:notifications"
    assert Channel("list", list_id=1).scope == "read:lists"
    assert Channel("hashtag", tag="x").context == "public" and Channel("public:remote").remote_only


def test_sse_frames_are_one_line_of_json_after_a_colon_and_a_space():
    payload = json.dumps({"content": "<p>two\nlines</p>"})
    framed = frame(Message(Channel("user"), "update", payload))
    assert framed == f"event: update\ndata: {payload}\n\n" and framed.count("\n") == 3
    assert frame(Message(Channel("user"), "delete", "123")) == "event: delete\ndata: 123\n\n"
    assert frame(Message(Channel("user"), "filters_changed", None)) == "event: filters_changed\ndata: null\n\n"


def test_websocket_messages_carry_the_payload_as_text():
    message = Message(Channel("hashtag", tag="Caregivers"), "update", '{"id":"1"}')
    assert message.websocket_frame() == {"stream": ["hashtag", "Caregivers"], "event": "update",
                                         "payload": '{"id":"1"}'}
    assert Message(Channel("user"), "filters_changed", None).websocket_frame() == {
        "stream": ["user"], "event": "filters_changed"}

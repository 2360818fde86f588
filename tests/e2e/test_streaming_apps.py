"""Streaming in real apps across two real servers: Mastodon.py's `stream_user` and
`stream_public` (server-sent events) and masto.js's streaming client (the WebSocket) on mayo
hear a post dr_bo makes on inova, delivered by federation, and the notification it brings.
On PostgreSQL mayo runs as `rounds serve --no-workers` beside a `rounds worker` process, so
the events are produced in the worker and reach the web process through LISTEN/NOTIFY; on
SQLite the workers run in the web process. A non-follower's streams never carry a
followers-only post, and revoking a token closes its streams.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from mastodon import Mastodon, StreamListener

from tests.e2e.test_mastodon_py_login import approve_in_browser
from tests.support.apps import eventually, person
from tests.support.javascript import JS, ensure_installed
from tests.support.processes import ROUNDS, Instance

pytestmark = pytest.mark.e2e
WAIT = 30.0
SCOPES = ["read", "write", "follow", "push"]


def start(instance: Instance, *, separate_worker: bool) -> list[subprocess.Popen[bytes]]:
    """`rounds init`, then `rounds serve` (and a `rounds worker` beside a `--no-workers` server)."""
    instance.directory.mkdir()
    init = instance.cli("init")
    assert init.returncode == 0, init.stderr
    log = (instance.directory / f"{instance.name}.log").open("wb")
    serve = [ROUNDS, "serve", "--host", instance.host, "--port", str(instance.port)]
    processes = [subprocess.Popen(serve + (["--no-workers"] if separate_worker else []), env=instance.env,
                                  cwd=instance.directory, stdout=log, stderr=subprocess.STDOUT)]
    if separate_worker:
        processes.append(subprocess.Popen([ROUNDS, "worker"], env=instance.env, cwd=instance.directory,
                                          stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert all(process.poll() is None for process in processes), instance.read_log()
        try:
            if httpx.get(f"{instance.base_url}/.well-known/nodeinfo", timeout=1).status_code == 200:
                return processes
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{instance.name} did not start: {instance.read_log()}")


@pytest.fixture
def pair(new_database_url, tmp_path, engine_name) -> Iterator[tuple[Instance, Instance]]:
    mayo = Instance("mayo", new_database_url(empty=True), tmp_path / "mayo",
                    extra={"ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true"})
    inova = Instance("inova", new_database_url(empty=True), tmp_path / "inova",
                     extra={"ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true"})
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes += start(mayo, separate_worker=engine_name == "postgresql")
        processes += start(inova, separate_worker=False)
        yield mayo, inova
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()




class Heard(StreamListener):
    """What a Mastodon.py stream delivered, in order."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        self.connected = threading.Event()

    def on_update(self, status):
        self.events.put(("update", status))

    def on_notification(self, notification):
        self.events.put(("notification", notification))

    def handle_heartbeat(self):
        self.connected.set()  # the `:)` Rounds sends once the stream is subscribed

    def next(self, wanted: Callable[[str, Any], bool], what: str) -> Any:
        """The first event heard (already, or within WAIT) that is `wanted`: deliveries from
        another server may arrive in any order."""
        for event, payload in self.seen:
            if wanted(event, payload):
                return payload
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                event, payload = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append((event, payload))
            if wanted(event, payload):
                return payload
        raise AssertionError(f"timed out waiting for {what}; heard {[event for event, _ in self.seen]}")


class MastoStream:
    """masto.js following one stream in a node process; its events, in order."""

    def __init__(self, streaming_url: str, token: str, channel: str) -> None:
        self.process = subprocess.Popen([str(ensure_installed()), str(JS / "masto_stream.mjs"), streaming_url,
                                         token, channel], cwd=JS, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def next(self, wanted: Callable[[dict[str, Any]], bool], what: str, seconds: float = WAIT) -> dict[str, Any]:
        for item in self.seen:
            if wanted(item):
                return item
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                item = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is None:
                raise AssertionError(f"masto.js stopped before {what}: {self.process.stderr.read()}")
            self.seen.append(item)
            if wanted(item):
                return item
        raise AssertionError(f"timed out waiting for {what}; masto.js heard {self.seen}")

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def text_of(payload: Any) -> str:
    return payload["content"] if payload else ""


def masto_update_with(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda item: item.get("event") == "update" and text in item["payload"]["content"]


def live(stream: MastoStream, api: Mastodon, who: str) -> None:
    """Wait until masto.js's subscription is in force: the user's own posts show in it."""
    for attempt in range(10):
        api.status_post(f"{who} checking the stream {attempt}", visibility="public")
        with contextlib.suppress(AssertionError):
            stream.next(masto_update_with(f"checking the stream {attempt}"), "the check post", seconds=3)
            return
    raise AssertionError("masto.js never subscribed")


def test_apps_hear_federated_posts_and_notifications_live(pair):
    mayo, inova = pair
    ann = person(mayo, "ann")
    eve = person(mayo, "eve")  # follows nobody
    bo = person(inova, "dr_bo", role="staff")
    bo_account = ann.search_v2(f"dr_bo@{inova.domain}", resolve=True, result_type="accounts")["accounts"][0]
    ann.account_follow(bo_account["id"])
    eventually(lambda: ann.account_relationships(bo_account["id"])[0]["following"], "dr_bo's Accept")

    ann_user, eve_user, eve_public = Heard(), Heard(), Heard()
    handles = [ann.stream_user(ann_user, run_async=True), eve.stream_user(eve_user, run_async=True),
               eve.stream_public(eve_public, run_async=True)]
    masto = MastoStream(f"ws://{mayo.domain}", ann.access_token, "user")
    try:
        for heard in (ann_user, eve_user, eve_public):
            assert heard.connected.wait(WAIT), "a Mastodon.py stream did not open"
        live(masto, ann, "ann")

        private = bo.status_post("the ward moves to floor 3, followers only", visibility="private")
        public = bo.status_post("#clinic open on Saturday", visibility="public")
        mention = bo.status_post(f"@ann@{mayo.domain} your results are in", visibility="direct")

        for wanted in ("floor 3", "open on Saturday"):
            status = ann_user.next(lambda event, payload, wanted=wanted: event == "update"
                                   and wanted in text_of(payload), f"{wanted!r} on ann's user stream")
            assert status["account"]["acct"] == f"dr_bo@{inova.domain}"
            masto.next(masto_update_with(wanted), f"{wanted!r} in masto.js")
        note = ann_user.next(lambda event, payload: event == "notification", "the mention on ann's user stream")
        assert note["type"] == "mention" and note["status"]["uri"] == mention["uri"]
        seen_by_masto = masto.next(lambda item: item.get("event") == "notification", "the mention in masto.js")
        assert seen_by_masto["payload"]["status"]["uri"] == mention["uri"]
        assert seen_by_masto["stream"] == ["user"]
        assert eve_public.next(lambda event, payload: "open on Saturday" in text_of(payload),
                               "the public post on eve's public stream")["uri"] == public["uri"]

        # eve's own post comes after dr_bo's three on both her streams: by then they were all
        # weighed for her, and the followers-only one and the mention were not for her.
        eve.status_post("eve was here", visibility="public")
        for heard in (eve_user, eve_public):
            heard.next(lambda event, payload: "eve was here" in text_of(payload), "eve's own post")
            assert all(private["uri"] != payload["uri"] and mention["uri"] != payload.get("uri")
                       for event, payload in heard.seen if event == "update")
            assert [event for event, _ in heard.seen if event == "notification"] == []
    finally:
        masto.close()
        for handle in handles:
            handle.close()


def test_revoking_a_token_closes_its_streams(pair):
    mayo, _ = pair
    person(mayo, "ann", password="a long password for ann")
    client_id, client_secret = Mastodon.create_app("Rounds streaming", scopes=SCOPES,
                                                   redirect_uris="urn:ietf:wg:oauth:2.0:oob",
                                                   api_base_url=mayo.base_url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=mayo.base_url)
    code = approve_in_browser(api.auth_request_url(scopes=SCOPES, allow_http=True), "ann",
                              "a long password for ann")
    api.log_in(code=code, scopes=SCOPES, allow_http=True)
    heard = Heard()
    handle = api.stream_user(heard, run_async=True)
    masto = MastoStream(f"ws://{mayo.domain}", api.access_token, "user")
    try:
        assert heard.connected.wait(WAIT)
        live(masto, api, "ann")
        api.revoke_access_token(allow_http=True)
        masto.next(lambda item: "closed" in item or "error" in item, "masto.js's stream to close")
        eventually(lambda: not handle.is_alive(), "Mastodon.py's stream to close")
    finally:
        masto.close()
        handle.close()

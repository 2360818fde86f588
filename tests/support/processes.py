"""Real `rounds` processes for end-to-end tests: the CLI and `rounds serve` on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROUNDS = str(Path(sys.executable).with_name("rounds"))
SECRET = "e2e-secret-" + "z" * 40


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def rounds_env(database_url: str, **settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ROUNDS_")}
    env.update({"ROUNDS_DATABASE_URL": database_url, "ROUNDS_SECRET_KEY": SECRET,
                "ROUNDS_HTTPS": "false"})
    env.update(settings)
    return env


def run_rounds(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ROUNDS, *args], env=env, cwd=cwd, input=stdin, capture_output=True,
                          text=True, timeout=timeout)


@dataclass
class Instance:
    """One `rounds serve` on 127.0.0.x:port with its own database."""

    name: str
    database_url: str
    directory: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    extra: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def domain(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    @property
    def env(self) -> dict[str, str]:
        return rounds_env(self.database_url, ROUNDS_DOMAIN=self.domain,
                          ROUNDS_INSTANCE_NAME=self.name, **self.extra)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_rounds(*args, env=self.env, cwd=self.directory, stdin=stdin)

    def start(self, timeout: float = 30) -> None:
        init = self.cli("init")
        assert init.returncode == 0, init.stderr
        self.log = (self.directory / f"{self.name}.log").open("wb")
        self.process = subprocess.Popen(
            [ROUNDS, "serve", "--host", self.host, "--port", str(self.port)],
            env=self.env, cwd=self.directory, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.read_log()}")
            try:
                if httpx.get(f"{self.base_url}/.well-known/nodeinfo", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start within {timeout}s: {self.read_log()}")

    def read_log(self) -> str:
        return (self.directory / f"{self.name}.log").read_text(errors="replace")

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.log.close()


@contextlib.contextmanager
def running_instances(names: list[str], new_database_url, directory: Path, **extra: str) -> Iterator[list[Instance]]:
    """Start one `rounds serve` per name, each in its own folder with a never-initialised database."""
    started: list[Instance] = []
    try:
        for name in names:
            folder = directory / name
            folder.mkdir()
            instance = Instance(name=name, database_url=new_database_url(empty=True), directory=folder, extra=extra)
            instance.start()
            started.append(instance)
        yield started
    finally:
        for instance in started:
            instance.stop()

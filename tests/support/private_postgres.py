"""A PostgreSQL cluster of a test's own, on a loopback port, that the test may stop and start.

The shared server (tests/support/databases.py) serves every test running on the machine, so
a test that needs the database to go away — a restart, an outage — starts its own cluster
with the server's binaries (`initdb`, `postgres`) instead. PostgreSQL refuses to run as root:
as root the cluster belongs to the `postgres` user and runs under `setpriv`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ENABLE_HINT = (
    "this test starts a private PostgreSQL cluster and needs the server binaries (initdb, postgres; "
    "Debian: `apt-get install postgresql`, or set ROUNDS_TEST_POSTGRES_BIN to their folder)"
)


def find_binaries() -> Path | None:
    """The folder of `initdb` and `postgres`: ROUNDS_TEST_POSTGRES_BIN, else the newest Debian install, else PATH."""
    candidates = [Path(os.environ["ROUNDS_TEST_POSTGRES_BIN"])] if os.environ.get("ROUNDS_TEST_POSTGRES_BIN") else []
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [path for path in debian.iterdir() if path.name.isdigit()]
        candidates += [path / "bin" for path in sorted(versions, key=lambda path: int(path.name), reverse=True)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivatePostgres:
    """One cluster in a fresh temporary folder; `start()`/`stop()` as often as wanted, `close()` once.

    Trust authentication, loopback only, user `postgres`. `stop()` is a real shutdown ("fast":
    sessions are ended, the server exits), and `start()` brings it back on the same port.
    """

    def __init__(self, binaries: Path, database: str = "rounds") -> None:
        self.binaries = binaries
        self.database = database
        self.port = _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="rounds-private-pg-"))
        self.data = self.folder / "data"
        self.log_path = self.folder / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._created = False
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        self._run([str(binaries / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "--no-locale", "-E", "UTF8", "--no-sync"])

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, command: list[str]) -> None:
        done = subprocess.run([*self._as_postgres, *command], capture_output=True, text=True, timeout=60,
                              cwd=self.folder)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def start(self, timeout: float = 30) -> None:
        """Start the server and wait until it takes connections; the first start creates the database."""
        if self.process is not None:
            return
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [*self._as_postgres, str(self.binaries / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.folder)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"postgres exited at start: {self.read_log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres did not take connections within {timeout}s: {self.read_log()}")
            time.sleep(0.05)
        if not self._created:
            self._created = True
            self._run([str(self.binaries / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                       self.database])

    def _ready(self) -> bool:
        done = subprocess.run([str(self.binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                              capture_output=True, timeout=10)
        return done.returncode == 0

    def stop(self, timeout: float = 30) -> None:
        """A fast shutdown: open sessions are ended and the server exits; returns once it has."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGQUIT)  # "immediate"
                self.process.wait(timeout=timeout)
        self.process = None

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

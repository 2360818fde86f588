"""Rounds' benchmarks: real `rounds serve` processes on loopback, driven by a load generator,
every figure printed beside a baseline measured in the same run.

    python -m bench                      # SQLite, the default sizes
    python -m bench --quick              # a tenth of the sizes, for a first look
    python -m bench --engine postgresql  # or `all`; ROUNDS_BENCH_POSTGRES_URL names the server

Workloads (the README's performance section has the figures and what they taught):

1. inbox ingest: signed 2 KiB `Create(Note)`s from many actors on many loopback hosts (a
   `bench.peer` process serves their keys), 64 in flight, to `rounds serve --no-workers`:
   first with the key cache cold (each actor fetched once), then warm; accepted/s, p50/p99;
   then `rounds worker` applies them: applied/s. Baselines: `bench.baseline` (verify the same
   signature with the same code, insert the raw body into the same database), and RSA-2048
   verifications and signatures per second in this process.
2. GET storm: many remote servers fetching an actor, its WebFinger, a post and the outbox, 64
   in flight; req/s and p99. Baseline: a bare Starlette JSON endpoint on the same server stack.
   `--profile DIR` runs py-spy on the server during the storm.
3. memory: the RSS of `rounds serve` idle, after ingest, and after each of three repeated
   warm ingest rounds (growth across them would be a leak).

4. fan-out: one post to many followers on the peer's hosts, with shared inboxes, without, and
   with slow and dead hosts among them: time to the last healthy inbox, deliveries/s, CPU per
   delivery. Baseline: RSA-2048 signatures per second. `--profile DIR` runs py-spy on the server
   during fan-out (b) and prints where the samples fell.

5. home timeline: a million statuses among 10,000 accounts, seeded straight into the tables
   (`bench.seed`); readers following 50, 200 and 1,000 of them page `GET /api/v1/timelines/home`
   from page 1 to page 5 by its `Link: next`, one and sixteen readers at a time; p50/p99 of
   pages 1 and 5, and the database statements per request, counted in the server
   (`bench.counting`). Baseline: a bare Starlette endpoint running the one equivalent indexed
   SELECT on the same database (`bench.timeline_baseline`); every page of both is compared.
   `--profile DIR` runs py-spy on the server while the readers read.

6. streaming: local accounts hold the `user` stream open (SSE) and follow one of the peer's
   actors; a public `Create(Note)` by it goes to the shared inbox and is timed until its event
   reached every stream (`bench.streaming`): p50/p99 over the streams, and the median time to
   the last one. Baseline: the same delivery with one stream open.

7. Fedify side by side: the ingest's signed requests, cold and warm, against a Fedify 2.3.6
   server on the same machine storing each Create in SQLite (`bench.fedify`; inline, then
   with its in-process queue). Skipped, saying how to enable it, without Node and its modules.

`--only ingest|fan-out|timeline|streaming` runs one part (ingest includes the Fedify peer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlmodel import select

from bench import streaming as streams
from bench.fedify import add_side_by_side, fedify_ingest
from bench.load import drive
from bench.peer import actor_uri, host_of
from bench.seed import seed_home_sync
from federation.httpsig import sign_cavage
from storage.engine import Database
from storage.tables import Actor, Follow

PYTHON = sys.executable
ROUNDS = str(Path(sys.executable).with_name("rounds"))
SECRET = "bench-secret-" + "b" * 40
PARTS = ("ingest", "fan-out", "timeline", "streaming")  # ingest also measures memory, the worker and the GET storm
CONCURRENT_READERS = (1, 16)
PAGES = 5
KEYS = 16


@dataclass
class Sizes:
    ingest: int = 20_000
    actors: int = 1_000
    domains: int = 50
    storm_servers: int = 500
    rounds_of_memory: int = 3
    followers: int = 10_000
    # the home timeline: statuses among accounts; readers following so many of them each
    statuses: int = 1_000_000
    accounts: int = 10_000
    follows: tuple[int, ...] = (50, 200, 1_000)
    readers: int = 16  # per follow count: one for each of the concurrent readers
    reading_sessions: int = 200  # per follow count and concurrency: pages 1 to 5 each
    streams: int = 1_000  # connected streaming clients

    @classmethod
    def quick(cls) -> Sizes:
        return cls(ingest=2_000, actors=200, domains=10, storm_servers=50, followers=1_000,
                   statuses=100_000, accounts=1_000, follows=(5, 20, 100), reading_sessions=100, streams=200)

    @classmethod
    def tiny(cls) -> Sizes:
        """Enough to see every part work (the test suite runs this), too little to measure."""
        return cls(ingest=60, actors=12, domains=6, storm_servers=5, rounds_of_memory=1, followers=40,
                   statuses=3_000, accounts=30, follows=(2, 5, 20), readers=2, reading_sessions=2, streams=3)


@dataclass
class Report:
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)  # figure, value, baseline, ratio
    figures: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: float, unit: str, baseline: float | None = None, baseline_name: str = "") -> None:
        self.figures[name] = {"value": value, "unit": unit, "baseline": baseline, "baseline_name": baseline_name,
                              "ratio": value / baseline if baseline else None}
        self.rows.append((name, f"{value:,.1f} {unit}", f"{baseline:,.1f} ({baseline_name})" if baseline else "",
                          f"{value / baseline:.2f}×" if baseline else ""))
        print(f"   {name}: {value:,.1f} {unit}" + (f"  (baseline {baseline:,.1f}: {value / baseline:.2f}×)"
                                                   if baseline else ""), flush=True)

    def table(self) -> str:
        widths = [max(len(row[i]) for row in [("figure", "value", "baseline", "ratio"), *self.rows])
                  for i in range(4)]
        lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))
                 for row in [("figure", "value", "baseline", "ratio"), *self.rows]]
        lines.insert(1, "-+-".join("-" * width for width in widths))
        return "\n".join(lines)


def step(message: str) -> None:
    print(f"== {message}", flush=True)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench: {what} did not happen within {timeout:.0f} s")


@contextmanager
def process(args: list[str], *, env: dict[str, str] | None = None, log: Path, ready: Callable[[], bool],
            what: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        child = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: child.poll() is None and ready(), what)
            yield child
        finally:
            child.terminate()
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


def answers(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code < 500


# --- keys and signed requests ---------------------------------------------------------------

def make_keys(directory: Path) -> list[rsa.RSAPrivateKey]:
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(KEYS)]
    for number, key in enumerate(keys):
        pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        (directory / f"{number:02d}.pub.pem").write_bytes(pem)
    return keys


def rsa_rates(key: rsa.RSAPrivateKey, seconds: float = 2.0) -> tuple[float, float]:
    """RSA-2048 PKCS#1 v1.5 SHA-256 signatures and verifications per second, in this process."""
    data = b"x" * 200
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    rates = []
    for operation in (lambda: key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
                      lambda: key.public_key().verify(signature, data, padding.PKCS1v15(), hashes.SHA256())):
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            operation()
            count += 1
        rates.append(count / (time.perf_counter() - began))
    return rates[0], rates[1]


def signed_creates(keys: list[rsa.RSAPrivateKey], sizes: Sizes, peer_port: int, inbox: str, recipient: str,
                   first: int, count: int) -> list[tuple[str, str, dict[str, str], bytes | None]]:
    """`count` signed Create(Note)s of about 2 KiB, from actors in turn, addressed to `recipient`."""
    text = ("Patients asked about visiting hours again today; here is what we agreed. " * 30)[:1900]
    requests = []
    now = datetime.now(UTC)
    for number in range(first, first + count):
        actor_number = number % sizes.actors
        actor = actor_uri(peer_port, sizes.domains, actor_number)
        note_id = f"{actor}/notes/{number}"
        document = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{note_id}/activity",
                    "type": "Create", "actor": actor, "to": [recipient], "cc": [f"{actor}/followers"],
                    "object": {"id": note_id, "type": "Note", "attributedTo": actor, "content": f"<p>{text}</p>",
                               "to": [recipient], "cc": [f"{actor}/followers"],
                               "published": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "tag": [{"type": "Mention", "href": recipient}]}}
        body = json.dumps(document).encode()
        headers = sign_cavage(method="POST", url=inbox, body=body, key_id=f"{actor}#main-key",
                              private_key=keys[actor_number % len(keys)], now=now)
        headers["Content-Type"] = "application/activity+json"
        requests.append(("POST", inbox, headers, body))
    return requests


# --- the instance under test ----------------------------------------------------------------

@dataclass
class Target:
    database_url: str
    directory: Path
    port: int

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.domain}"

    def env(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith("ROUNDS_")}
        env.update({"ROUNDS_DATABASE_URL": self.database_url, "ROUNDS_SECRET_KEY": SECRET, "ROUNDS_HTTPS": "false",
                    "ROUNDS_DOMAIN": self.domain, "ROUNDS_ALLOW_PRIVATE_ADDRESSES": "true",
                    "ROUNDS_API_RATE_LIMIT": "0", "ROUNDS_LOG_LEVEL": "warning"})
        return env

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([ROUNDS, *args], env=self.env(), cwd=self.directory, input=stdin, text=True,
                              capture_output=True, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"bench: rounds {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def serve(self, *extra: str, counting: bool = False) -> Any:
        """`rounds serve`; `counting`: the same, with each response's query count in a header
        (`bench.counting`)."""
        command = [PYTHON, "-m", "bench.counting"] if counting else [ROUNDS]
        return process([*command, "serve", "--host", "127.0.0.1", "--port", str(self.port), *extra], env=self.env(),
                       log=self.directory / "serve.log", ready=answers(f"{self.base_url}/.well-known/nodeinfo"),
                       what="rounds serve answering")

    def pending(self) -> int:
        return self.count("SELECT count(*) FROM inbox_items WHERE state = 'pending'")

    def rows(self, query: str) -> tuple[Any, ...]:
        async def first() -> tuple[Any, ...]:
            database = Database(self.database_url)
            try:
                async with database.engine.connect() as connection:
                    return tuple((await connection.execute(sa.text(query))).one())
            finally:
                await database.dispose()

        return asyncio.run(first())

    def count(self, query: str) -> int:
        async def counted() -> int:
            database = Database(self.database_url)
            try:
                async with database.engine.connect() as connection:
                    return int((await connection.execute(sa.text(query))).scalar_one())
            finally:
                await database.dispose()

        return asyncio.run(counted())


def fresh_database(engine_name: str, directory: Path) -> str:
    """A new, empty database: a file in the work directory, or `rounds_bench` (dropped and
    made again) on the server ROUNDS_BENCH_POSTGRES_URL names."""
    if engine_name == "sqlite":
        return f"sqlite:///{directory / 'bench.db'}"
    server = os.environ.get("ROUNDS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")

    async def recreate() -> None:
        connection = await asyncpg.connect(f"{server}/postgres", timeout=10)
        try:
            await connection.execute("DROP DATABASE IF EXISTS rounds_bench WITH (FORCE)")
            await connection.execute("CREATE DATABASE rounds_bench")
        finally:
            await connection.close()

    try:
        asyncio.run(recreate())
    except (OSError, asyncpg.PostgresError) as error:
        raise SystemExit(f"bench: no PostgreSQL at {server} ({error}); set ROUNDS_BENCH_POSTGRES_URL") from None
    return f"{server}/rounds_bench"


# --- the workloads --------------------------------------------------------------------------

def run_engine(report: Report, keys: list[rsa.RSAPrivateKey], sizes: Sizes, engine_name: str, work: Path,
               peer_port: int, sign_rate: float, *, database_url: str | None = None,
               parts: tuple[str, ...] = PARTS, profile: Path | None = None) -> None:
    database_url = database_url or fresh_database(engine_name, work)
    target = Target(database_url, work, free_port())
    target.cli("init")
    target.cli("accounts", "create", "bench", "--email", "bench@example.org", "--role", "staff")
    if "ingest" in parts:
        ingest(report, keys, sizes, engine_name, target, peer_port, profile)
    if "fan-out" in parts:
        fan_out(report, target, sizes, engine_name, peer_port, sign_rate, profile)
    if "timeline" in parts:
        home_timeline(report, target, sizes, engine_name, profile)
    if "streaming" in parts:
        streaming(report, keys, sizes, engine_name, target, peer_port)


def ingest(report: Report, keys: list[rsa.RSAPrivateKey], sizes: Sizes, engine_name: str, target: Target,
           peer_port: int, profile: Path | None = None) -> None:
    """Inbox ingest (cold and warm keys), memory, the worker's rate, and the GET storm."""
    work, database_url = target.directory, target.database_url
    inbox, recipient = f"{target.base_url}/inbox", f"{target.base_url}/users/bench"
    half = sizes.ingest // 2

    step(f"{engine_name}: signing {2 * sizes.ingest:,} requests")
    began = time.perf_counter()
    cold = signed_creates(keys, sizes, peer_port, inbox, recipient, 0, half)
    warm = signed_creates(keys, sizes, peer_port, inbox, recipient, half, sizes.ingest - half)
    baseline_requests = signed_creates(keys, sizes, peer_port, inbox, recipient, 10 * sizes.ingest, sizes.ingest)
    print(f"   signed in {time.perf_counter() - began:.1f} s", flush=True)

    step(f"{engine_name}: baseline (verify and insert the raw body), {len(baseline_requests):,} requests")
    with process([PYTHON, "-m", "bench.baseline", str(work / "keys"), database_url, "127.0.0.1", str(target.port)],
                 log=work / "baseline.log", ready=answers(inbox), what="the baseline answering"):
        base = drive(baseline_requests)
    if base.statuses.get(202, 0) != len(baseline_requests):
        print(f"   baseline: not all accepted: {base.statuses}", flush=True)

    step(f"{engine_name}: rounds serve --no-workers, key cache cold then warm")
    with target.serve("--no-workers") as server:
        idle = rss_mb(server.pid)
        first = drive(cold)
        profiler = start_profiler(server.pid, profile / f"ingest-warm-{engine_name}.txt") if profile else None
        second = drive(warm)
        if profiler is not None:
            stop_profiler(profiler)
        after = rss_mb(server.pid)
        repeats = []
        for round_number in range(sizes.rounds_of_memory):
            drive(signed_creates(keys, sizes, peer_port, inbox, recipient, (round_number + 2) * sizes.ingest, half))
            repeats.append(rss_mb(server.pid))
    for load, name in ((first, "cold"), (second, "warm")):
        refused = {code: n for code, n in load.statuses.items() if code != 202}
        report.figures[f"{engine_name} ingest not accepted, {name}"] = sum(refused.values())
        if refused:
            print(f"   {name}: not accepted: {refused} (see {work / 'serve.log'})", flush=True)
    report.add(f"{engine_name} ingest accepted/s, keys cold", first.rate, "req/s", base.rate, "verify+insert")
    report.add(f"{engine_name} ingest accepted/s, keys warm", second.rate, "req/s", base.rate, "verify+insert")
    report.add(f"{engine_name} ingest p50, warm", second.percentile(0.5), "ms", base.percentile(0.5), "verify+insert")
    report.add(f"{engine_name} ingest p99, warm", second.percentile(0.99), "ms", base.percentile(0.99),
               "verify+insert")
    report.add(f"{engine_name} RSS idle", idle, "MB")
    report.add(f"{engine_name} RSS after ingest", after, "MB", idle, "idle")
    for number, value in enumerate(repeats, 1):
        report.add(f"{engine_name} RSS after repeat {number}", value, "MB", after, "after ingest")

    step(f"{engine_name}: the same ingest against Fedify 2.3.6 (no queue, then its in-process queue)")
    add_side_by_side(report, engine_name, first, second,
                     fedify_ingest(partial(signed_creates, keys, sizes, peer_port), drive, work, sizes.ingest))

    step(f"{engine_name}: rounds worker applies what was accepted")
    waiting = target.pending()
    began = time.perf_counter()
    with process([ROUNDS, "worker"], env=target.env(), log=work / "worker.log", ready=lambda: True,
                 what="rounds worker"):
        wait_until(lambda: target.pending() == 0, "the worker emptying the inbox", timeout=3600)
    report.add(f"{engine_name} inbox applied/s", waiting / (time.perf_counter() - began), "items/s",
               first.rate, "accepted/s cold")
    report.figures[f"{engine_name} inbox applied"] = waiting
    report.figures[f"{engine_name} remote posts stored"] = target.count("SELECT count(*) FROM statuses WHERE NOT local")

    step(f"{engine_name}: GET storm from {sizes.storm_servers} servers")
    token = target.cli("accounts", "token", "bench").strip()
    with target.serve() as server:
        posted = httpx.post(f"{target.base_url}/api/v1/statuses", headers={"Authorization": f"Bearer {token}"},
                            json={"status": "Visiting hours are 9 to 8", "visibility": "public"}, timeout=30).json()
        activity = {"Accept": "application/activity+json"}
        paths = [(f"{target.base_url}/users/bench", activity),
                 (f"{target.base_url}/.well-known/webfinger?resource=acct:bench@{target.domain}", {}),
                 (posted["uri"], activity), (f"{target.base_url}/users/bench/outbox", activity)]
        storm = [("GET", url, headers, None) for _ in range(sizes.storm_servers) for url, headers in paths]
        profiler = start_profiler(server.pid, profile / f"get-storm-{engine_name}.txt") if profile else None
        got = drive(storm)
        if profiler is not None:
            stop_profiler(profiler)
    failed = {code: n for code, n in got.statuses.items() if code != 200}
    report.figures[f"{engine_name} GET storm not 200"] = sum(failed.values())
    if failed:
        print(f"   GET storm: not 200: {failed}", flush=True)
    bare_port = free_port()
    with process([PYTHON, "-c", BARE_APP, str(bare_port)], log=work / "bare.log",
                 ready=answers(f"http://127.0.0.1:{bare_port}/"), what="the bare app answering"):
        bare = drive([("GET", f"http://127.0.0.1:{bare_port}/", {}, None)] * len(storm))
    report.add(f"{engine_name} GET storm", got.rate, "req/s", bare.rate, "bare Starlette JSON")
    report.add(f"{engine_name} GET storm p99", got.percentile(0.99), "ms", bare.percentile(0.99), "bare Starlette JSON")


def streaming(report: Report, keys: list[rsa.RSAPrivateKey], sizes: Sizes, engine_name: str, target: Target,
              peer_port: int) -> None:
    """From a signed inbox delivery to its event on one stream, then on `sizes.streams`."""
    actor = streams.followed_actor(peer_port, sizes.domains)
    key = keys[0]  # the peer lends its first actor the first key (keys go round-robin)
    inbox = f"{target.base_url}/inbox"
    with target.serve():
        step(f"{engine_name}: streaming: {sizes.streams:,} people following {actor}, each holding the user stream")
        # The actor is known here once its first post arrived; only then can anyone follow it.
        _note, headers, body = streams.public_create(key, actor, inbox, 0)
        answer = httpx.post(inbox, headers=headers, content=body, timeout=30)
        if answer.status_code != 202:
            raise SystemExit(f"bench: the inbox answered {answer.status_code}: {answer.text[:200]}")
        known = f"SELECT count(*) FROM actors WHERE uri = '{actor}'"
        wait_until(lambda: target.count(known) == 1, "the followed actor stored")
        tokens = streams.prepare_listeners(target.database_url, target.base_url, sizes.streams, actor)
        one = streams.time_deliveries(target.base_url, tokens[:1],
                                      streams.deliveries_by(key, actor, inbox, 1, streams.EVENTS))
        many = streams.time_deliveries(target.base_url, tokens,
                                       streams.deliveries_by(key, actor, inbox, 1 + streams.EVENTS, streams.EVENTS))
    report.figures[f"{engine_name} stream events missing"] = one.missing + many.missing
    count = f"{sizes.streams:,} streams"
    report.add(f"{engine_name} stream event p50, {count}", many.percentile(0.5), "ms", one.percentile(0.5), "1 stream")
    report.add(f"{engine_name} stream event p99, {count}", many.percentile(0.99), "ms", one.percentile(0.99),
               "1 stream")
    report.add(f"{engine_name} stream event on the last of {count}", many.last, "ms", one.last, "1 stream")


SLOW_HOSTS, DEAD_HOSTS = 3, 2  # of the peer's hosts: the last three answer slowly; two more are not served


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed_followers(target: Target, username: str, sizes: Sizes, peer_port: int, *, shared: bool,
                   with_faults: bool) -> int:
    """`sizes.followers` remote followers of the local `username`, spread over the peer's healthy
    hosts (and, `with_faults`, over its slow hosts and two hosts nobody serves). Returns how many
    live on healthy hosts."""
    healthy_hosts = sizes.domains - SLOW_HOSTS
    spread = sizes.domains + DEAD_HOSTS if with_faults else healthy_hosts

    async def seed() -> int:
        database = Database(target.database_url)
        healthy = 0
        try:
            async with database.transaction() as session:
                local = (await session.exec(select(Actor).where(Actor.username == username,
                                                                Actor.domain.is_(None)))).one()  # type: ignore[union-attr]
                for number in range(sizes.followers):
                    index = number % spread
                    host = f"{host_of(index)}:{peer_port}"
                    uri = f"http://{host}/users/{username}-f{number}"
                    follower = Actor(uri=uri, username=f"{username}-f{number}", username_key=f"{username}-f{number}",
                                     domain=host, inbox_uri=f"{uri}/inbox", key_id=f"{uri}#main-key",
                                     shared_inbox_uri=f"http://{host}/inbox" if shared else None)
                    session.add(follower)
                    await session.flush()
                    session.add(Follow(follower_id=follower.id, followee_id=local.id, state="accepted",
                                       uri=f"{uri}#follow"))
                    healthy += index < healthy_hosts
        finally:
            await database.dispose()
        return healthy

    return asyncio.run(seed())


def fan_out(report: Report, target: Target, sizes: Sizes, engine_name: str, peer_port: int, sign_rate: float,
            profile: Path | None = None) -> None:
    cases = {"a": ("shared inboxes", True, False), "b": ("no shared inboxes", False, False),
             "c": (f"no shared inboxes, {SLOW_HOSTS} slow and {DEAD_HOSTS} dead hosts", False, True)}
    healthy_counts = {}
    for case, (_, shared, faults) in cases.items():
        target.cli("accounts", "create", f"fan_{case}", "--email", f"fan_{case}@example.org", "--role", "staff")
        healthy_counts[case] = seed_followers(target, f"fan_{case}", sizes, peer_port, shared=shared,
                                              with_faults=faults)
    times = {}
    with target.serve() as server:
        for case, (label, _shared, _faults) in cases.items():
            step(f"{engine_name}: fan-out ({case}) to {sizes.followers:,} followers, {label}")
            token = target.cli("accounts", "token", f"fan_{case}").strip()
            signer = f"(SELECT id FROM actors WHERE username = 'fan_{case}' AND domain IS NULL)"
            cpu_before = cpu_seconds(server.pid)
            profiler = start_profiler(server.pid, profile / f"fan-out-{case}-{engine_name}.txt") \
                if profile is not None and case == "b" else None
            posted = httpx.post(f"{target.base_url}/api/v1/statuses", headers={"Authorization": f"Bearer {token}"},
                                json={"status": f"Fan-out {case}", "visibility": "public"}, timeout=60)
            assert posted.status_code == 200, posted.text
            # Only the healthy hosts' rows count: those to slow hosts do arrive, 20 s later, and
            # must not stretch the time the healthy ones took.
            healthy = f"signer_id = {signer}" + "".join(
                f" AND host <> '{host_of(index)}:{peer_port}'"
                for index in range(sizes.domains - SLOW_HOSTS, sizes.domains + DEAD_HOSTS))
            wanted = target.count(f"SELECT count(*) FROM deliveries WHERE {healthy}")
            delivered = f"SELECT count(*) FROM deliveries WHERE {healthy} AND state = 'delivered'"
            wait_until(lambda query=delivered, goal=wanted: target.count(query) >= goal,
                       f"fan-out ({case}) reaching the healthy hosts", timeout=3600)
            cpu = cpu_seconds(server.pid) - cpu_before
            if profiler is not None:
                stop_profiler(profiler)
            spans = target.rows(f"SELECT min(created_at), max(delivered_at) FROM deliveries "
                                f"WHERE {healthy} AND state = 'delivered'")
            seconds = (parse_time(spans[1]) - parse_time(spans[0])).total_seconds()
            times[case] = seconds
            report.add(f"{engine_name} fan-out ({case}) to the last healthy inbox", seconds, "s",
                       wanted / sign_rate, "RSA signing time")
            report.add(f"{engine_name} fan-out ({case}) deliveries/s", wanted / max(seconds, 1e-6), "deliveries/s",
                       sign_rate, "RSA signatures/s")
            report.add(f"{engine_name} fan-out ({case}) CPU per delivery", 1000 * cpu / max(wanted, 1), "ms",
                       1000 / sign_rate, "one RSA signature")
            report.figures[f"{engine_name} fan-out ({case}) delivered"] = wanted
    report.add(f"{engine_name} fan-out: healthy hosts with dead and slow ones", times["c"], "s", times["b"],
               "no faults")


# --- the home timeline ------------------------------------------------------------------------

@dataclass
class Reading:
    """What readers paging their home timelines saw: by page number, latencies (s) and the
    queries each answer took; answers other than 200; the ids on each reader's pages."""

    latencies: dict[int, list[float]] = field(default_factory=dict)
    queries: dict[int, list[int]] = field(default_factory=dict)
    failures: dict[int, int] = field(default_factory=dict)
    pages: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # (reader, page) → ids


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def _read_home(first_pages: list[tuple[str, dict[str, str]]], concurrency: int, sessions: int) -> Reading:
    """`sessions` readings of pages 1 to PAGES, `concurrency` at a time, as a client pages: page 1,
    then each `Link: next`. Reading number n is reader n's (in turn): at any moment the readings
    in flight are different readers'."""
    reading = Reading()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        todo = iter(range(sessions))

        async def reader_loop() -> None:
            for number in todo:
                reader = number % len(first_pages)
                url: str | None
                url, headers = first_pages[reader]
                for page in range(1, PAGES + 1):
                    if url is None:
                        break
                    began = time.perf_counter()
                    try:
                        response = await client.get(url, headers=headers)
                    except httpx.HTTPError:
                        reading.failures[0] = reading.failures.get(0, 0) + 1
                        break
                    reading.latencies.setdefault(page, []).append(time.perf_counter() - began)
                    if response.status_code != 200:
                        reading.failures[response.status_code] = reading.failures.get(response.status_code, 0) + 1
                        break
                    if "x-bench-queries" in response.headers:
                        reading.queries.setdefault(page, []).append(int(response.headers["x-bench-queries"]))
                    reading.pages[(reader, page)] = [entity["id"] for entity in response.json()]
                    url = response.links.get("next", {}).get("url")

        await asyncio.gather(*(reader_loop() for _ in range(concurrency)))
    return reading


def read_home(first_pages: list[tuple[str, dict[str, str]]], concurrency: int, sessions: int) -> Reading:
    return asyncio.run(_read_home(first_pages, concurrency, sessions))


def home_timeline(report: Report, target: Target, sizes: Sizes, engine_name: str,
                  profile: Path | None = None) -> None:
    """Readers following 50, 200 and 1,000 of 10,000 accounts page their home timelines (pages 1
    to 5) among a million statuses, one and sixteen at a time, from `rounds serve` (each answer's
    query count in a header, `bench.counting`) and from the baseline (`bench.timeline_baseline`,
    one indexed SELECT); then both are compared page by page."""
    step(f"{engine_name}: seeding {sizes.statuses:,} statuses among {sizes.accounts:,} accounts (bulk, not the API)")
    seeded = seed_home_sync(target.database_url, target.base_url, statuses=sizes.statuses, accounts=sizes.accounts,
                            follow_counts=sizes.follows, readers_each=sizes.readers,
                            progress=lambda message: print(f"   {message}", flush=True))
    report.add(f"{engine_name} home: seeding {sizes.statuses:,} statuses", seeded.seconds, "s")
    report.figures[f"{engine_name} home statuses seeded"] = target.count(
        "SELECT count(*) FROM statuses WHERE uri LIKE 'https://h%.bench.example/%'")
    work, baseline_port = target.directory, free_port()
    bare = f"http://127.0.0.1:{baseline_port}/home"
    with target.serve(counting=True) as server, \
            process([PYTHON, "-m", "bench.timeline_baseline", target.database_url, "127.0.0.1", str(baseline_port)],
                    log=work / "timeline-baseline.log", ready=answers(f"{bare}?reader=0"),
                    what="the timeline baseline answering"):
        profiler = start_profiler(server.pid, profile / f"timeline-{engine_name}.txt") if profile else None
        mismatched, failed = 0, 0
        for follows in sizes.follows:
            readers = seeded.readers[follows]
            sides = {"rounds": [(f"{target.base_url}/api/v1/timelines/home", {"Authorization": f"Bearer {token}"})
                                for _, token in readers],
                     "baseline": [(f"{bare}?reader={actor_id}", {}) for actor_id, _ in readers]}
            for first_pages in sides.values():
                read_home(first_pages, 1, len(first_pages))  # warm both: each reader once, unmeasured
            for concurrency in CONCURRENT_READERS:
                step(f"{engine_name}: home timeline, following {follows:,}, {concurrency} reader(s), "
                     f"{sizes.reading_sessions} readings of pages 1-{PAGES}")
                got = {side: read_home(first_pages, concurrency, sizes.reading_sessions)
                       for side, first_pages in sides.items()}
                rounds, base = got["rounds"], got["baseline"]
                failed += sum(rounds.failures.values())
                if rounds.failures or base.failures:
                    print(f"   not 200: rounds {rounds.failures}, baseline {base.failures}", flush=True)
                mismatched += sum(ids != base.pages.get(key) for key, ids in rounds.pages.items())
                mismatched += len(base.pages.keys() - rounds.pages.keys())
                label = f"following {follows:,}, {concurrency} reader{'s' if concurrency > 1 else ''}"
                for page in (1, PAGES):
                    for name, share in (("p50", 0.5), ("p99", 0.99)):
                        report.add(f"{engine_name} home page {page} {name}, {label}",
                                   1000 * percentile(rounds.latencies.get(page, []), share), "ms",
                                   1000 * percentile(base.latencies.get(page, []), share), "one indexed SELECT")
                if concurrency == 1:
                    counted = [count for counts in rounds.queries.values() for count in counts]
                    baseline_counted = [count for counts in base.queries.values() for count in counts]
                    report.add(f"{engine_name} home queries/request, following {follows:,}",
                               sum(counted) / max(len(counted), 1), "queries",
                               sum(baseline_counted) / max(len(baseline_counted), 1), "one indexed SELECT")
        if profiler is not None:
            stop_profiler(profiler)
    report.figures[f"{engine_name} home pages unlike the baseline"] = mismatched
    report.figures[f"{engine_name} home requests not 200"] = failed
    if mismatched:
        print(f"   {mismatched} pages differ from the baseline's", flush=True)


# --- profiles -------------------------------------------------------------------------------------

PY_SPY = Path(sys.executable).with_name("py-spy")


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling `pid` into `output` (collapsed stacks) until `stop_profiler`; None without py-spy."""
    if not PY_SPY.exists():
        print("   (no profile: `pip install py-spy` into this environment to get one)", flush=True)
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                             "--nonblocking", "--output", str(output)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    profiler.send_signal(signal.SIGINT)
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()
    output = Path(profiler.args[-1])  # type: ignore[index]
    if output.exists():
        summary = profile_summary(output.read_text())
        output.with_suffix(".summary.txt").write_text(summary)
        print(summary, flush=True)


def profile_summary(collapsed: str, top: int = 25) -> str:
    """The functions that held the CPU longest, counting each once per sample (inclusive), from
    py-spy's collapsed stacks (`frame;frame;… count` per line); the project's own code marked."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        for frame in set(stack.split(";")):
            inclusive[frame] = inclusive.get(frame, 0) + samples
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])
    lines = [f"   {total} samples; functions by share of samples (inclusive):"]
    lines += [f"   {100 * count / max(total, 1):5.1f}%  {frame}" for frame, count in ranked[:top]]
    return "\n".join(lines)


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


BARE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
async def hello(request):
    return JSONResponse({"type": "Person", "id": "http://127.0.0.1/users/bench"})
uvicorn.run(Starlette(routes=[Route("/", hello)]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    sizes_given = parser.add_mutually_exclusive_group()
    sizes_given.add_argument("--quick", action="store_true", help="a tenth of the default sizes")
    sizes_given.add_argument("--tiny", action="store_true", help="just enough to see every part work")
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "all"), default="sqlite")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"), help="where the figures go")
    parser.add_argument("--database-url", help="an empty database to use (one engine only)")
    parser.add_argument("--only", choices=PARTS, help="run one part (ingest covers memory, worker, GET storm)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="profile the server with py-spy during the warm ingest, fan-out (b) and the home "
                             "timeline's readings; stacks and a summary go to DIR")
    args = parser.parse_args(argv)
    if args.database_url and args.engine == "all":
        parser.error("--database-url names one database: choose one --engine")
    sizes = Sizes.quick() if args.quick else Sizes.tiny() if args.tiny else Sizes()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="rounds-bench-") as temporary:
        work = Path(temporary)
        (work / "keys").mkdir()
        step(f"making {KEYS} RSA-2048 keys for {sizes.actors:,} actors on {sizes.domains} hosts")
        keys = make_keys(work / "keys")
        sign_rate, verify_rate = rsa_rates(keys[0])
        report.add("RSA-2048 signatures/s (this process)", sign_rate, "op/s")
        report.add("RSA-2048 verifications/s (this process)", verify_rate, "op/s")
        peer_port = free_port("127.0.0.2")
        with process([PYTHON, "-m", "bench.peer", str(work / "keys"), str(peer_port), str(sizes.domains),
                      str(sizes.actors), str(SLOW_HOSTS)], log=work / "peer.log",
                     ready=answers(f"{actor_uri(peer_port, sizes.domains, 0)}"), what="the peer answering"):
            for engine_name in (("sqlite", "postgresql") if args.engine == "all" else (args.engine,)):
                run_engine(report, keys, sizes, engine_name, work, peer_port, sign_rate,
                           database_url=args.database_url, parts=(args.only,) if args.only else PARTS,
                           profile=args.profile)
    print()
    print(report.table())
    args.json.write_text(json.dumps({"sizes": sizes.__dict__, "figures": report.figures,
                                     "cpus": os.cpu_count(), "when": datetime.now(UTC).isoformat()}, indent=2))
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

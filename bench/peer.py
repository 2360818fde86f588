"""The remote side of the benchmarks: many actors on many loopback hosts, in one process.

`python -m bench.peer KEYS_DIR PORT DOMAINS ACTORS [SLOW]` serves, on 127.0.0.2 …
127.0.0.(DOMAINS+1) at PORT, the actor documents `/users/a{n}` (actor n lives on domain
n % DOMAINS) with public keys read from KEYS_DIR (actors share a few keys round-robin:
generating a thousand RSA keys would take longer than the benchmark), and inboxes that take
anything with 202; on the last SLOW hosts the inboxes answer only after SLOW_SECONDS (a
server that is up but overloaded). It prints "ready" once every address listens.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ACTIVITY_JSON = "application/activity+json"
SLOW_SECONDS = 20.0


def host_of(domain_index: int) -> str:
    return f"127.0.0.{domain_index + 2}"


def actor_uri(port: int, domains: int, number: int) -> str:
    return f"http://{host_of(number % domains)}:{port}/users/a{number}"


def build(keys: list[str], port: int, domains: int, actors: int, slow: int = 0) -> Starlette:
    slow_hosts = {host_of(index) for index in range(domains - slow, domains)}

    async def actor(request: Request) -> Response:
        name = request.path_params["name"]
        if not name.startswith("a") or not name[1:].isdigit() or int(name[1:]) >= actors:
            return JSONResponse({"error": "no such actor"}, status_code=404)
        number = int(name[1:])
        uri = actor_uri(port, domains, number)
        if request.url.hostname != host_of(number % domains):
            return JSONResponse({"error": "not on this host"}, status_code=404)
        document = {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": uri, "type": "Person", "preferredUsername": name, "name": f"Bench actor {number}",
            "inbox": f"{uri}/inbox", "outbox": f"{uri}/outbox", "followers": f"{uri}/followers",
            "endpoints": {"sharedInbox": f"http://{host_of(number % domains)}:{port}/inbox"},
            "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": keys[number % len(keys)]},
        }
        return JSONResponse(document, media_type=ACTIVITY_JSON)

    async def inbox(request: Request) -> Response:
        await request.body()
        if request.url.hostname in slow_hosts:
            await asyncio.sleep(SLOW_SECONDS)
        return Response(status_code=202)

    return Starlette(routes=[Route("/users/{name}", actor), Route("/users/{name}/inbox", inbox, methods=["POST"]),
                             Route("/inbox", inbox, methods=["POST"])])


async def main(keys: list[str], port: int, domains: int, actors: int, slow: int) -> None:
    app = build(keys, port, domains, actors, slow)
    servers = [uvicorn.Server(uvicorn.Config(app, host=host_of(index), port=port, log_level="warning",
                                             lifespan="off", access_log=False))
               for index in range(domains)]
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            raise SystemExit("a peer address could not be served")
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    await asyncio.gather(*tasks)


if __name__ == "__main__":
    directory, port_text, domains_text, actors_text = sys.argv[1:5]
    slow_count = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    public_keys = [path.read_text() for path in sorted(Path(directory).glob("*.pub.pem"))]
    asyncio.run(main(public_keys, int(port_text), int(domains_text), int(actors_text), slow_count))

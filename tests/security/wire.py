"""What the security tests send and what they check: hand-made signatures, row counts, leaks.

A hostile peer does not use our signer, so signatures here are built line by line
(draft-cavage-12 §2.3) with whatever coverage, date, digest or algorithm a case needs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import func
from sqlmodel import SQLModel, select

from federation.httpsig import body_digest_header
from storage.tables import LocalKey
from tests.support.network import Node

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = AS + "#Public"
# Stands for health data in a post: it must never come back in an error, a log line or a page.
SECRET = "MRN-0042 biopsy result: benign"
POST_COVERAGE = ("(request-target)", "host", "date", "digest")


class Clock:
    """Real time, shared by every instance of a test; `advance` moves it ahead for all of them."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


async def private_key(node: Node, username: str) -> rsa.RSAPrivateKey:
    actor = await node.local(username)
    async with node.ctx.database.session() as session:
        sealed = await session.get(LocalKey, actor.id)
    return node.ctx.keyring.open(actor.id, sealed.private_key_encrypted)


def cavage(*, key: Any, key_id: str, url: str, body: bytes, now: datetime, method: str = "post",
           covered: Iterable[str] = POST_COVERAGE, algorithm: str | None = "rsa-sha256",
           digest: str | None = None, date: datetime | None = None,
           content_type: str = "application/activity+json") -> dict[str, str]:
    """Headers of a draft-cavage POST, signed over exactly `covered` with the values given."""
    parts = urlsplit(url)
    headers = {"Host": parts.netloc, "Date": format_datetime(date or now, usegmt=True),
               "Digest": digest or body_digest_header(body), "Content-Type": content_type}
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = []
    for name in covered:
        if name == "(request-target)":
            lines.append(f"(request-target): {method} {target}")
        else:
            lines.append(f"{name}: {headers[name.title()]}")
    signed = "\n".join(lines).encode()
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    else:
        raw = key.sign(signed)
    algorithm_part = f'algorithm="{algorithm}",' if algorithm else ""
    headers["Signature"] = (f'keyId="{key_id}",{algorithm_part}headers="{" ".join(covered)}",'
                            f'signature="{base64.b64encode(raw).decode()}"')
    return headers


async def signed_by(sender: Node, username: str, url: str, body: bytes, **options: Any) -> dict[str, str]:
    """Headers of `body` POSTed to `url` and signed with `username`'s real key on `sender`."""
    actor = await sender.local(username)
    return cavage(key=await private_key(sender, username), key_id=actor.key_id, url=url, body=body,
                  now=options.pop("now", None) or sender.federation.clock(), **options)


async def deliver(receiver: Node, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await receiver.client.post(url, content=body, headers=headers)


async def row_counts(node: Node) -> dict[str, int]:
    """The number of rows in every table: "nothing stored" means this does not change."""
    counts = {}
    async with node.ctx.database.session() as session:
        for table in SQLModel.metadata.sorted_tables:
            counts[table.name] = (await session.exec(select(func.count()).select_from(table))).one()
    return counts


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (before[name], after[name]) for name in before if before[name] != after[name]}


def assert_refused(response: httpx.Response, status: int, *, logs: str = "") -> None:
    """The answer is `status`, says why as `{"error": …}`, and echoes nothing of what was sent."""
    assert response.status_code == status, (response.status_code, response.text)
    assert isinstance(response.json().get("error"), str)
    assert SECRET not in response.text
    assert SECRET not in logs


def note(actor_uri: str, note_id: str, text: str = SECRET, **overrides: Any) -> dict[str, Any]:
    return {"id": note_id, "type": "Note", "attributedTo": actor_uri, "content": f"<p>{text}</p>",
            "to": [PUBLIC], "cc": [f"{actor_uri}/followers"]} | overrides


def create(actor_uri: str, note_id: str, text: str = SECRET, **overrides: Any) -> bytes:
    return json.dumps({"@context": AS, "id": f"{note_id}/activity", "type": "Create", "actor": actor_uri,
                       "to": [PUBLIC], "object": note(actor_uri, note_id, text, **overrides)}).encode()


def activity(**fields: Any) -> bytes:
    return json.dumps({"@context": AS} | fields).encode()

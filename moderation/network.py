"""The network of member institutions, read from a TOML file (`ROUNDS_NETWORK_FILE`).

    name = "Hospital Network"

    [[members]]
    name = "Mayo Clinic"
    domain = "mayo.example"
    contact = "fediverse@mayo.example"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


class NetworkFileError(ValueError):
    """The network file cannot be read or says something invalid; the message says where."""


@dataclass(frozen=True)
class Member:
    name: str
    domain: str
    contact: str = ""


@dataclass(frozen=True)
class Network:
    name: str
    members: tuple[Member, ...]

    def is_member(self, domain: str) -> bool:
        domain = domain.lower()
        return any(member.domain == domain for member in self.members)


def load_network(path: Path) -> Network:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise NetworkFileError(f"{path}: cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise NetworkFileError(f"{path}: not valid TOML: {error}") from None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise NetworkFileError(f"{path}: needs a `name` (the network's name)")
    raw_members = data.get("members", [])
    if not isinstance(raw_members, list):
        raise NetworkFileError(f"{path}: `members` must be a list of [[members]] tables")
    members = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_members, start=1):
        where = f"{path}: member {number}"
        if not isinstance(raw, dict):
            raise NetworkFileError(f"{where}: must be a table")
        member_name, domain = raw.get("name"), raw.get("domain")
        contact = raw.get("contact", "")
        if not isinstance(member_name, str) or not member_name.strip():
            raise NetworkFileError(f"{where}: needs a `name`")
        if not isinstance(domain, str) or not domain.strip() or "/" in domain or "@" in domain:
            raise NetworkFileError(f"{where}: needs a `domain` such as \"mayo.example\"")
        if not isinstance(contact, str):
            raise NetworkFileError(f"{where}: `contact` must be text")
        domain = domain.strip().lower()
        if domain in seen:
            raise NetworkFileError(f"{where}: domain {domain} is listed twice")
        seen.add(domain)
        members.append(Member(name=member_name.strip(), domain=domain, contact=contact.strip()))
    return Network(name=name.strip(), members=tuple(members))

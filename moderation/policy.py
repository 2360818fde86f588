"""Which remote hosts this instance federates with: the federation mode and the network."""

from __future__ import annotations

from dataclasses import dataclass, field

from moderation.network import Network


def host_of_domain(domain: str) -> str:
    """`Mayo.Example.:443` → `mayo.example:443`: lower-cased, no trailing dot."""
    host, _, port = domain.lower().partition(":")
    host = host.rstrip(".")
    return f"{host}:{port}" if port else host


@dataclass(frozen=True)
class DomainPolicy:
    mode: str = "open"  # open | network | allowlist
    network: Network | None = None
    allowed: frozenset[str] = field(default_factory=frozenset)  # extra domains in allowlist mode

    def allows(self, domain: str) -> bool:
        """May we exchange activities with `domain` (host or host:port)? Subdomains follow parents."""
        domain = host_of_domain(domain)
        if self.mode == "open":
            return True
        members = {m.domain for m in self.network.members} if self.network else set()
        permitted = members | (self.allowed if self.mode == "allowlist" else set())
        return any(_within(domain, allowed) for allowed in permitted)

    def refusal(self, domain: str) -> str | None:
        if self.allows(domain):
            return None
        if self.mode == "network":
            return f"{domain} is not a member of this instance's network"
        return f"{domain} is not on this instance's allowlist"


def _within(domain: str, parent: str) -> bool:
    parent = host_of_domain(parent)
    return domain == parent or domain.endswith("." + parent)

"""The instance's settings: declared once as data, read once at start, passed down.

Every setting is a `ROUNDS_*` environment variable. `SETTINGS` drives parsing, the
`rounds settings` listing and the README's configuration table (a test fails when a
setting is missing from the README). Nothing here runs at import time.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting is missing or invalid. The message names the variable."""


DOMAIN_RE = re.compile(
    r"^(?=.{1,253}(:|$))([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*"
    r"(:[0-9]{1,5})?$"
)
FEDERATION_MODES = ("open", "network", "allowlist")
REGISTRATION_MODES = ("open", "approval", "closed")
LOG_LEVELS = ("debug", "info", "warning", "error")
MIN_SECRET_LENGTH = 32
DEV_SECRET_FILE = ".rounds-dev-secret"


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name}: must be greater than 0, got {value}")
    return value


def _count(name: str, raw: str) -> int:
    """A whole number, 0 included."""
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name}: must be 0 or more, got {value}")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _domain(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if not DOMAIN_RE.match(value):
        raise SettingsError(f"{name}: expected a host name or host:port, got {raw!r}")
    if ":" in value and not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise SettingsError(f"{name}: port out of range in {raw!r}")
    return value


def _database_url(name: str, raw: str) -> str:
    value = raw.strip()
    scheme = value.split(":", 1)[0].split("+", 1)[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise SettingsError(f"{name}: expected a sqlite:// or postgresql:// URL, got {raw!r}")
    return value


def _secret(name: str, raw: str) -> str:
    if len(raw) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"{name}: too short ({len(raw)} characters); use at least {MIN_SECRET_LENGTH} random "
            "characters, e.g. the output of `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return raw


def _text(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        raise SettingsError(f"{name}: must not be empty")
    return value


def _existing_file(name: str, raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_file():
        raise SettingsError(f"{name}: no such file: {raw}")
    return path


def _directory(name: str, raw: str) -> Path:
    path = Path(raw.strip()).expanduser()
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name}: not a directory: {raw}")
    return path


@dataclass(frozen=True)
class Setting:
    env: str
    attribute: str
    parse: Callable[[str, str], Any]
    default: Any
    help: str
    default_text: str = ""

    def documented_default(self) -> str:
        return self.default_text or ("none" if self.default is None else str(self.default).lower())


SETTINGS: tuple[Setting, ...] = (
    Setting("ROUNDS_DOMAIN", "domain", _domain, "localhost:8000",
            "The instance's domain, `host` or `host:port`; it is in every ActivityPub id."),
    Setting("ROUNDS_DATABASE_URL", "database_url", _database_url, "sqlite:///./rounds.db",
            "SQLAlchemy URL: `sqlite:///path` or `postgresql://user@host/db`."),
    Setting("ROUNDS_SECRET_KEY", "secret_key", _secret, None,
            "Signs sessions and tokens and encrypts private keys; at least 32 characters. "
            "Required unless `ROUNDS_DEV` is true.",
            default_text=f"dev only: generated once into `{DEV_SECRET_FILE}`"),
    Setting("ROUNDS_DEV", "dev", _boolean, False,
            "Development mode: allows a generated secret key. Never in production."),
    Setting("ROUNDS_HTTPS", "https", _boolean, True,
            "`false` makes ids `http://` (development and tests on loopback)."),
    Setting("ROUNDS_ALLOW_PRIVATE_ADDRESSES", "allow_private_addresses", _boolean, False,
            "Let outbound fetches reach loopback and private addresses (tests only)."),
    Setting("ROUNDS_FEDERATION_MODE", "federation_mode", _choice(FEDERATION_MODES), "open",
            "`open`, `network` (member instances only) or `allowlist` (members and listed domains)."),
    Setting("ROUNDS_NETWORK_FILE", "network_file", _existing_file, None,
            "TOML file naming the network and its member instances."),
    Setting("ROUNDS_INSTANCE_NAME", "instance_name", _text, "Rounds",
            "The instance's name, shown on pages and in the client API (e.g. `Mayo Clinic`)."),
    Setting("ROUNDS_REGISTRATIONS", "registrations", _choice(REGISTRATION_MODES), "approval",
            "Sign-ups: `open`, `approval` (an admin approves each) or `closed`."),
    Setting("ROUNDS_MAX_BODY_BYTES", "max_body_bytes", _positive_int, 1_048_576,
            "Largest request body accepted by inboxes and the API, in bytes (picture uploads: up to 16 MiB each).",
            default_text="1048576"),
    Setting("ROUNDS_MEDIA_DIR", "media_dir", _directory, Path("media"),
            "Directory for uploaded pictures (created when the first one arrives); back it up with the database.",
            default_text="./media"),
    Setting("ROUNDS_API_RATE_LIMIT", "api_rate_limit", _count, 300,
            "Client API requests each token (or, without one, each address) may make in five minutes; "
            "counted per web process. `0` turns the limit off.",
            default_text="300"),
    Setting("ROUNDS_LOG_LEVEL", "log_level", _choice(LOG_LEVELS), "info",
            "`debug`, `info`, `warning` or `error`."),
    Setting("ROUNDS_STREAM_BUFFER", "stream_buffer", _positive_int, 256,
            "Events a streaming client may fall behind by before it is disconnected.",
            default_text="256"),
    Setting("ROUNDS_BLOCKLIST_REFRESH", "blocklist_refresh", _positive_int, 3600,
            "Seconds between refreshes of each subscribed blocklist of another member instance.",
            default_text="3600"),
)


@dataclass(frozen=True)
class Settings:
    domain: str = "localhost:8000"
    database_url: str = "sqlite:///./rounds.db"
    secret_key: str = field(default="", repr=False)
    dev: bool = False
    https: bool = True
    allow_private_addresses: bool = False
    federation_mode: str = "open"
    network_file: Path | None = None
    instance_name: str = "Rounds"
    registrations: str = "approval"
    max_body_bytes: int = 1_048_576
    media_dir: Path = Path("media")
    api_rate_limit: int = 300
    log_level: str = "info"
    stream_buffer: int = 256
    blocklist_refresh: int = 3600

    @property
    def base_url(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.domain}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Settings:
        """Build settings from `ROUNDS_*` variables; raise SettingsError naming the bad one."""
        env = os.environ if environ is None else environ
        known = {setting.env for setting in SETTINGS}
        unknown = sorted(name for name in env if name.startswith("ROUNDS_") and name not in known)
        if unknown:
            raise SettingsError(f"{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})")
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = env.get(setting.env)
            if raw is None or raw == "":
                values[setting.attribute] = setting.default
            else:
                values[setting.attribute] = setting.parse(setting.env, raw)
        if not values["secret_key"]:
            if not values["dev"]:
                raise SettingsError(
                    "ROUNDS_SECRET_KEY: required outside development mode "
                    "(set it to 32+ random characters, or set ROUNDS_DEV=true to try Rounds out)"
                )
            values["secret_key"] = _dev_secret(cwd or Path.cwd())
        return cls(**values)

    def as_env(self) -> dict[str, str]:
        """The settings as environment variables, to start another process with them."""
        env = {}
        by_attribute = {setting.attribute: setting for setting in SETTINGS}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            text = str(value).lower() if isinstance(value, bool) else str(value)
            env[by_attribute[item.name].env] = text
        return env


def _dev_secret(directory: Path) -> str:
    """A development secret generated once and kept beside the database.

    Kept, not regenerated per start: private keys are encrypted with it.
    """
    path = directory / DEV_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret

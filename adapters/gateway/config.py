"""The ``[gateway]`` table of the zwbus configuration file.

```toml
[gateway]
host = "127.0.0.1"
port = 8470
max_pending_records = 5000   # records accepted but not yet answered, all senders
batch_wait_ms = 20           # how long a sender's records gather before a batch runs

[[gateway.clients]]
id = "ga"                                  # sender id: a department system
token_sha256 = "<hex SHA-256 of the bearer token>"
hmac_secret_env = "ZWBUS_GATEWAY_SECRET_GA"  # or: sign requests with this secret
regions = ["5116"]                         # region prefixes it may write
departments = ["11511602MB1543219X"]       # department codes it may write; empty: any
rate = 200                                  # records per second
burst = 400
profiles = { case = "profiles/ga-approval.toml" }
```

Secrets never sit in the file: a token is stored as its SHA-256 digest, and
an HMAC secret is read from the environment variable the file names.
Profile paths are relative to the configuration file.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import msgspec

from adapters.family_profile import SourceProfile, load_source_profile
from bus.errors import ConfigError
from bus.i18n import N_

FAMILIES = ("case", "review", "hall", "share")
DEFAULT_PORT = 8470
_CLIENT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ClientSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    token_sha256: str | None = None
    hmac_secret_env: str | None = None
    regions: list[str] = []
    departments: list[str] = []
    rate: float = 100.0
    burst: float | None = None
    profiles: dict[str, str] = {}


class GatewaySection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_pending_records: int = 5000
    batch_wait_ms: int = 20
    clients: list[ClientSection] = []


class Client(msgspec.Struct, frozen=True, kw_only=True):
    """A sender with its credentials, rights, rate and profiles, ready to use."""

    id: str
    token_sha256: bytes | None
    hmac_secret: bytes | None
    regions: tuple[str, ...]
    departments: frozenset[str]
    rate: float
    burst: float
    profiles: dict[str, SourceProfile]


class GatewayConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    port: int
    max_pending_records: int
    batch_wait_s: float
    clients: dict[str, Client]


def load_gateway_config(path: Path) -> GatewayConfig:
    """Read the ``[gateway]`` table; raises ``ConfigError`` naming the key and the fix."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(N_("Configuration file {path} not found."), path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            N_("Configuration file {path} is not valid TOML: {detail}"),
            path=str(path),
            detail=str(exc),
        ) from exc
    try:
        section = msgspec.convert(raw.get("gateway", {}), GatewaySection)
    except msgspec.ValidationError as exc:
        raise ConfigError(
            N_("The [gateway] table of {path} does not match its format: {detail}"),
            path=str(path),
            detail=str(exc),
        ) from exc

    _check_limits(path, section)
    clients = [_client(path, client) for client in section.clients]
    ids = [client.id for client in clients]
    duplicated = sorted({name for name in ids if ids.count(name) > 1})
    if duplicated:
        raise _invalid(path, "gateway.clients.id", duplicated[0], "give each sender its own id")
    return GatewayConfig(
        host=section.host,
        port=section.port,
        max_pending_records=section.max_pending_records,
        batch_wait_s=section.batch_wait_ms / 1000,
        clients={client.id: client for client in clients},
    )


def _check_limits(path: Path, section: GatewaySection) -> None:
    if not 0 <= section.port <= 65535:
        raise _invalid(path, "gateway.port", section.port, "use a port from 1 to 65535")
    if section.max_pending_records < 1:
        raise _invalid(
            path, "gateway.max_pending_records", section.max_pending_records, "use 1 or more"
        )
    if not 0 <= section.batch_wait_ms <= 1000:
        raise _invalid(
            path, "gateway.batch_wait_ms", section.batch_wait_ms, "use 0 to 1000 milliseconds"
        )


def _client(path: Path, section: ClientSection) -> Client:
    key = f"gateway.clients[{section.id}]"
    if not _CLIENT_ID.fullmatch(section.id):
        raise _invalid(path, "gateway.clients.id", section.id, "use 1-40 of a-z, 0-9 and -")
    if section.token_sha256 is None and section.hmac_secret_env is None:
        raise _invalid(
            path, key, section.id, "set token_sha256 or hmac_secret_env so the sender can log in"
        )
    if section.token_sha256 is not None and not _SHA256_HEX.fullmatch(section.token_sha256):
        raise _invalid(
            path,
            f"{key}.token_sha256",
            "…",
            "give the 64 lowercase hex digits of the token's SHA-256 digest",
        )
    secret = None
    if section.hmac_secret_env is not None:
        value = os.environ.get(section.hmac_secret_env)
        if not value:
            raise ConfigError(
                N_(
                    "Sender {client} signs with the secret in environment variable {name}, "
                    "which is not set. Export it before starting the gateway."
                ),
                client=section.id,
                name=section.hmac_secret_env,
            )
        secret = value.encode()
    if section.rate <= 0:
        raise _invalid(path, f"{key}.rate", section.rate, "use a positive number of records/s")
    for region in section.regions:
        if not re.fullmatch(r"[0-9]{2}|[0-9]{4}|[0-9]{6}", region):
            raise _invalid(
                path, f"{key}.regions", region, "use a 2-, 4- or 6-digit region code prefix"
            )
    unknown = sorted(set(section.profiles) - set(FAMILIES))
    if unknown:
        raise _invalid(
            path, f"{key}.profiles", unknown[0], f"use one of {', '.join(FAMILIES)}"
        )
    if not section.profiles:
        raise _invalid(path, f"{key}.profiles", "{}", "name a profile for each family it sends")

    profiles = {
        family: load_source_profile((path.parent / name).resolve())
        for family, name in section.profiles.items()
    }
    for family, profile in profiles.items():
        if profile.source.family != family:
            raise _invalid(
                path,
                f"{key}.profiles.{family}",
                section.profiles[family],
                f"the profile is of family {profile.source.family}; list it under that family",
            )
    return Client(
        id=section.id,
        token_sha256=bytes.fromhex(section.token_sha256) if section.token_sha256 else None,
        hmac_secret=secret,
        regions=tuple(section.regions),
        departments=frozenset(section.departments),
        rate=section.rate,
        burst=section.burst if section.burst is not None else section.rate * 2,
        profiles=profiles,
    )


def _invalid(path: Path, key: str, value: object, rule: str) -> ConfigError:
    return ConfigError(
        N_("Configuration {path}: {key} = {value!r} is invalid: {rule}"),
        path=str(path),
        key=key,
        value=value,
        rule=rule,
    )

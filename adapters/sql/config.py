"""The ``[poll]`` table of a source profile: which table to read and how.

::

    [poll]
    dsn = "postgresql://reader@db.example:5432/approvals"   # or driver + host/port/database/user
    password_env = "GA_DB_PASSWORD"   # the password is read from this environment variable
    table = "case_status"             # or query = "SELECT ... FROM ..."
    watermark = "updated_at"          # increasing id or update time of each row
    key = "id"                        # a unique, non-null column of each row
    kind = "time"                     # "time" (update time) or "id" (increasing id)
    interval_s = 60                   # seconds between two passes
    batch_size = 500                  # rows per batch
    overlap = 60                      # re-read behind the watermark: seconds (time) or ids (id)

The password never sits in the profile: it comes from the DSN or from the
environment variable named by ``password_env``.
"""

from __future__ import annotations

import os
from typing import Literal
from urllib.parse import unquote, urlsplit

import msgspec

from bus.errors import ConfigError
from bus.i18n import N_, LazyText

Driver = Literal["postgresql", "mysql"]
DRIVER_NAMES: dict[str, Driver] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
"""Driver names accepted in ``driver`` and as a DSN scheme; MariaDB speaks the MySQL protocol."""
DEFAULT_PORTS: dict[Driver, int] = {"postgresql": 5432, "mysql": 3306}
DEFAULT_OVERLAP = {"time": 60.0, "id": 0.0}
"""Default re-read behind the watermark: 60 seconds of update times, or no ids."""


class PollSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[poll]`` table as written in the profile."""

    driver: str = ""
    dsn: str = ""
    host: str = "127.0.0.1"
    port: int = 0
    database: str = ""
    user: str = ""
    password_env: str = ""
    table: str = ""
    query: str = ""
    watermark: str
    key: str
    kind: Literal["id", "time"]
    interval_s: float = 60.0
    batch_size: int = 500
    overlap: float | None = None
    """Seconds for kind ``time``, ids for kind ``id``; None takes ``DEFAULT_OVERLAP``."""
    retry_initial_s: float = 1.0
    retry_max_s: float = 60.0
    retry_attempts: int = 10
    reconcile_interval_s: float = 0.0
    """Seconds between two key reconciliations that detect deleted rows; 0 turns them off."""
    reconcile_max_keys: int = 1_000_000
    connect_timeout_s: float = 10.0
    query_timeout_s: float = 300.0
    """Maximum wait for one query; a slower one counts as a failed read and is retried."""


class Connection(msgspec.Struct, frozen=True, kw_only=True):
    """Database address and credentials, resolved from the DSN or the separate settings."""

    driver: Driver
    host: str
    port: int
    database: str
    user: str
    password: str

    def describe(self) -> str:
        """Return ``driver://user@host:port/database`` without the password, for logs."""
        return f"{self.driver}://{self.user}@{self.host}:{self.port}/{self.database}"


def _invalid(path: str, key: str, value: object, rule: str) -> ConfigError:
    """Build the error of one bad [poll] setting; ``rule`` is a message id marked with ``N_``."""
    return ConfigError(
        N_("Profile {path}: {key} = {value!r} is invalid: {rule}"),
        path=path,
        key=key,
        value=value,
        rule=LazyText(rule),
    )


def check_poll(path: str, poll: PollSection) -> None:
    """Check the ``[poll]`` table; raise ``ConfigError`` naming the key and the fix."""
    if bool(poll.table) == bool(poll.query):
        rule = N_("set exactly one of poll.table and poll.query")
        raise _invalid(path, "poll.table", poll.table, rule)
    for key in ("watermark", "key"):
        value = getattr(poll, key)
        if not value.strip():
            raise _invalid(path, f"poll.{key}", value, N_("name a column of the table or query"))

    if not poll.dsn and not poll.driver:
        raise _invalid(
            path, "poll.driver", poll.driver, N_("set poll.dsn, or poll.driver with host")
        )
    if poll.driver and poll.driver.lower() not in DRIVER_NAMES:
        raise _invalid(path, "poll.driver", poll.driver, N_("use postgresql, mysql or mariadb"))

    if poll.batch_size < 1:
        raise _invalid(
            path, "poll.batch_size", poll.batch_size, N_("use a positive number of rows")
        )
    if poll.interval_s <= 0:
        raise _invalid(
            path, "poll.interval_s", poll.interval_s, N_("use a positive number of seconds")
        )
    if poll.overlap is not None and poll.overlap < 0:
        raise _invalid(path, "poll.overlap", poll.overlap, N_("use 0 or more"))
    if poll.kind == "id" and poll.overlap is not None and not float(poll.overlap).is_integer():
        raise _invalid(path, "poll.overlap", poll.overlap, N_("use a whole number of ids"))

    retry_ok = 0 < poll.retry_initial_s <= poll.retry_max_s and poll.retry_attempts >= 1
    if not retry_ok:
        raise _invalid(
            path,
            "poll.retry_attempts",
            poll.retry_attempts,
            N_("use at least 1 attempt, retry_initial_s > 0 and retry_max_s >= retry_initial_s"),
        )
    if poll.reconcile_interval_s < 0:
        raise _invalid(
            path, "poll.reconcile_interval_s", poll.reconcile_interval_s, N_("use 0 (off) or more")
        )
    if poll.dsn:
        _parse_dsn(path, poll.dsn)


def overlap_of(poll: PollSection) -> float:
    """Return the re-read behind the watermark, in seconds (time) or ids (id)."""
    return DEFAULT_OVERLAP[poll.kind] if poll.overlap is None else poll.overlap


def resolve_connection(path: str, poll: PollSection) -> Connection:
    """Combine the DSN, the separate settings and the password variable into one connection."""
    password = ""
    if poll.password_env:
        if poll.password_env not in os.environ:
            raise ConfigError(
                N_(
                    "Profile {path}: poll.password_env names {variable}, which is not set. "
                    "Export the database password in that variable before zwbus poll."
                ),
                path=path,
                variable=poll.password_env,
            )
        password = os.environ[poll.password_env]
    if poll.dsn:
        parsed = _parse_dsn(path, poll.dsn)
        return Connection(
            driver=parsed.driver,
            host=parsed.host,
            port=parsed.port,
            database=parsed.database,
            user=parsed.user,
            password=password or parsed.password,
        )
    driver = DRIVER_NAMES[poll.driver.lower()]
    return Connection(
        driver=driver,
        host=poll.host,
        port=poll.port or DEFAULT_PORTS[driver],
        database=poll.database,
        user=poll.user,
        password=password,
    )


def _parse_dsn(path: str, dsn: str) -> Connection:
    parts = urlsplit(dsn)
    driver = DRIVER_NAMES.get(parts.scheme.lower())
    # The DSN may hold a password, so the message names only its scheme.
    if driver is None or not parts.hostname:
        raise _invalid(
            path,
            "poll.dsn",
            f"{parts.scheme}://…",
            N_("use postgresql://user@host:port/database or mysql://user@host:port/database"),
        )
    try:
        port = parts.port or DEFAULT_PORTS[driver]
    except ValueError as exc:
        raise _invalid(
            path, "poll.dsn", f"{parts.scheme}://…", N_("the port is not a number")
        ) from exc
    return Connection(
        driver=driver,
        host=parts.hostname,
        port=port,
        database=unquote(parts.path.lstrip("/")),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )

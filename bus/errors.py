"""Errors raised by zwbus, with one root so that callers can catch them all.

    BusError
    ├── ConfigError           a setting, profile or argument is invalid
    ├── ServerError           the embedded nats-server cannot start or stop
    ├── ConnectError          no NATS server responded at the configured address
    ├── StreamError           a stream or bucket is missing or cannot be changed
    ├── PublishError          the bus did not acknowledge a publish in time
    └── CheckpointAheadError  a projection's stored sequence is past its stream

Each error keeps its facts as attributes and writes its sentence in the
screen language when it is shown, so a log line carries the ids and a person
reads Chinese or English.
"""

from __future__ import annotations

from typing import Any

from bus.i18n import N_, _


class BusError(Exception):
    """Root of every zwbus error."""

    template = N_("{detail}")

    def __init__(self, template: str | None = None, /, **facts: Any) -> None:
        super().__init__(*facts.values())
        if template is not None:
            self.template = template
        self.facts = facts

    def __str__(self) -> str:
        return _(self.template).format(**self.facts)


class ConfigError(BusError):
    """A setting, profile or argument is invalid."""


class ServerError(BusError):
    """The embedded nats-server cannot be started, found or stopped."""


class ConnectError(BusError):
    """No NATS server responded."""

    template = N_(
        "Cannot connect to NATS at {url}: {detail}. Check ZWBUS_NATS_URL or --nats-url, "
        "or leave both unset to use the embedded server."
    )


class StreamError(BusError):
    """A stream or bucket is missing or cannot be changed."""


class PublishError(BusError):
    """The bus did not acknowledge a publish after all retries."""

    template = N_(
        "Publish to {subject} (message id {msg_id}) was not acknowledged after "
        "{attempts} attempts: {detail}. Check that the server is running and the stream exists "
        "(zwbus streams apply)."
    )


class CheckpointAheadError(BusError):
    """A projection's stored sequence is ahead of its stream's last sequence."""

    template = N_(
        "Projection {projection} has applied up to sequence {stored}, but stream {stream} "
        "ends at {last}. The store belongs to another stream or the stream was recreated; "
        "refusing to run. Rebuild the projection or point it at the right server."
    )

"""Connecting to NATS: the configured server, or the embedded one started on demand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
import nats.errors
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus import server
from bus.errors import ConnectError
from bus.settings import Settings

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_S = 5.0
INITIAL_ATTEMPTS = 2
"""Tries of the first connection, so that a wrong address fails within seconds."""
RECONNECT_ATTEMPTS = 60
RECONNECT_WAIT_S = 1.0


def server_url(settings: Settings) -> str:
    """Return the configured URL, or start the embedded server and return its URL."""
    if settings.nats_url:
        return settings.nats_url
    return server.start(settings.data_dir).url


async def _log_disconnected() -> None:
    log.info("nats_disconnected")


async def _log_reconnected() -> None:
    log.info("nats_reconnected")


async def connect(settings: Settings, *, name: str = "zwbus") -> Client:
    """Open a client connection; raises ``ConnectError`` naming the URL on failure."""
    url = server_url(settings)
    connected = False

    async def log_error(error: Exception) -> None:
        # Before the first connection, failures end in one ConnectError for
        # the user; logging each attempt as a warning would only repeat it.
        level = log.warning if connected else log.debug
        level("nats_client_error", url=url, error=str(error), error_type=type(error).__name__)

    try:
        client = await nats.connect(
            url,
            name=name,
            connect_timeout=CONNECT_TIMEOUT_S,
            max_reconnect_attempts=INITIAL_ATTEMPTS,
            reconnect_time_wait=RECONNECT_WAIT_S,
            allow_reconnect=True,
            error_cb=log_error,
            disconnected_cb=_log_disconnected,
            reconnected_cb=_log_reconnected,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        raise ConnectError(url=url, detail=str(exc) or type(exc).__name__) from exc
    connected = True
    # nats-py reads this option on every reconnection: once connected, ride
    # out a server restart for about a minute before giving up.
    client.options["max_reconnect_attempts"] = RECONNECT_ATTEMPTS
    log.info("nats_connected", url=url, client_name=name)
    return client


@asynccontextmanager
async def open_bus(
    settings: Settings, *, name: str = "zwbus"
) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    """Connect, yield the client and its JetStream context, and drain on exit."""
    client = await connect(settings, name=name)
    try:
        yield client, client.jetstream()
    finally:
        if client.is_connected:
            await client.drain()
        else:
            await client.close()

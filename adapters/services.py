"""The adapters' part of ``zwbus run``: the gateway, table pollers and return-flow sinks.

- the HTTP gateway when the file has a ``[gateway]`` table;
- one table poller per profile listed in ``[run] pollers`` (paths relative
  to the configuration file), of any family;
- the return-flow sinks when the file has ``[[sink]]`` tables.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import click

from bus.i18n import _
from bus.services import RunConfig, Service
from bus.settings import Settings

SINK_STOP_WAIT_S = 30.0
"""How long a stop waits for the sinks to finish the batch in hand."""


def provide(settings: Settings, config: RunConfig) -> list[Service]:
    """Return the adapters the configuration asks for."""
    services: list[Service] = []
    if config.path is None:
        return services
    if config.tables.gateway is not None:
        services.append(_gateway(settings, config.path))
    for name in config.tables.run.pollers:
        services.append(_poller(settings, config.folder / name))
    if config.tables.sink:
        services.append(_sinks(settings, config.path))
    return services


def _gateway(settings: Settings, path: Path) -> Service:
    from adapters.gateway.config import load_gateway_config
    from adapters.gateway.service import serve_gateway

    gateway = load_gateway_config(path)

    def listening(host: str, port: int) -> None:
        click.echo(
            _("Gateway listening on http://{host}:{port} (OpenAPI at /openapi.json)").format(
                host=host, port=port
            )
        )

    return Service(
        kind="gateway",
        name=f"{gateway.host}:{gateway.port}",
        run=lambda: serve_gateway(settings, gateway, ready=listening),
    )


def _poller(settings: Settings, profile_path: Path) -> Service:
    from adapters.family_profile import load_source_profile
    from adapters.sdk.driver import run_source
    from adapters.sql.poller import TablePoller

    poller = TablePoller(load_source_profile(profile_path), once=False)

    async def poll() -> None:
        await run_source(settings, poller)

    return Service(kind="poller", name=poller.source_id, run=poll)


def _sinks(settings: Settings, path: Path) -> Service:
    from adapters.sinks.config import load_sinks_config
    from adapters.sinks.runner import run_sinks

    sinks = load_sinks_config(path)

    async def deliver() -> None:
        # A stop lets each sink finish and acknowledge the batch in hand.
        stop = asyncio.Event()
        running = asyncio.ensure_future(run_sinks(settings, sinks, stop))
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            stop.set()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(running, SINK_STOP_WAIT_S)
            raise

    names = ", ".join(sink.id for sink in sinks.sinks)
    return Service(kind="sink", name=names, run=deliver)

"""The adapters' part of ``zwbus run``: the HTTP gateway when configured."""

from __future__ import annotations

import click

from bus.i18n import _
from bus.services import RunConfig, Service
from bus.settings import Settings


def provide(settings: Settings, config: RunConfig) -> list[Service]:
    """Return the gateway when the configuration has a ``[gateway]`` table."""
    services: list[Service] = []
    if "gateway" in config.tables and config.path is not None:
        from adapters.gateway.config import load_gateway_config
        from adapters.gateway.service import serve_gateway

        gateway = load_gateway_config(config.path)

        def listening(host: str, port: int) -> None:
            click.echo(
                _("Gateway listening on http://{host}:{port} (OpenAPI at /openapi.json)").format(
                    host=host, port=port
                )
            )

        services.append(
            Service(
                kind="gateway",
                name=f"{gateway.host}:{gateway.port}",
                run=lambda: serve_gateway(settings, gateway, ready=listening),
            )
        )
    return services

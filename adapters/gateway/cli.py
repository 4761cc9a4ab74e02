"""The ``zwbus gateway`` command."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec

from adapters.gateway.config import load_gateway_config
from adapters.gateway.service import serve_gateway
from bus.i18n import _
from bus.runner import Interrupted, run
from bus.settings import Settings

DEFAULT_CONFIG = Path("zwbus.toml")


@click.command(
    "gateway",
    help=_(
        "Accept records pushed over HTTP by department systems and answer with each "
        "record's outcome. Runs until Ctrl-C or SIGTERM."
    ),
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    show_default=True,
    help=_("Configuration file with the [gateway] table and its senders."),
)
@click.option("--host", default=None, help=_("Address to listen on, overriding the file."))
@click.option(
    "--port", type=int, default=None, help=_("Port to listen on, overriding the file.")
)
@click.pass_obj
def gateway(settings: Settings, config_path: Path, host: str | None, port: int | None) -> None:
    config = load_gateway_config(config_path)
    if host is not None or port is not None:
        config = msgspec.structs.replace(
            config,
            host=host if host is not None else config.host,
            port=port if port is not None else config.port,
        )

    def ready(bound_host: str, bound_port: int) -> None:
        click.echo(
            _("Gateway listening on http://{host}:{port} (OpenAPI at /openapi.json)").format(
                host=bound_host, port=bound_port
            )
        )

    try:
        run(serve_gateway(settings, config, ready=ready))
    except Interrupted:
        click.echo(_("Gateway stopped; every request taken was answered."))

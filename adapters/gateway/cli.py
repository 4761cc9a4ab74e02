"""The ``zwbus gateway`` command."""

from __future__ import annotations

import click
import msgspec

from adapters.gateway.config import load_gateway_config
from adapters.gateway.service import serve_gateway
from bus.config import config_path
from bus.errors import ConfigError
from bus.i18n import N_, _
from bus.runner import Interrupted, run
from bus.settings import Settings


@click.command(
    "gateway",
    help=_(
        "Accept records pushed over HTTP by department systems and return each "
        "record's outcome. Runs until Ctrl-C or SIGTERM."
    ),
)
@click.option("--host", default=None, help=_("Address to listen on, overriding the file."))
@click.option(
    "--port", type=int, default=None, help=_("Port to listen on, overriding the file.")
)
@click.pass_obj
def gateway(settings: Settings, host: str | None, port: int | None) -> None:
    path = config_path(settings.config_file)
    if path is None:
        raise ConfigError(
            N_(
                "The gateway needs a configuration file with a [gateway] table: pass "
                "--config FILE, set ZWBUS_CONFIG, or put zwbus.toml in the working folder."
            )
        )
    config = load_gateway_config(path)
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

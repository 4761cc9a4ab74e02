"""The ``zwbus run`` command."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec

from bus import server
from bus.connect import server_url
from bus.errors import ConfigError
from bus.i18n import N_, _
from bus.runner import Interrupted, run
from bus.services import Service, collect_services, read_run_config, run_services
from bus.settings import Settings

DEFAULT_CONFIG = Path("zwbus.toml")


@click.command(
    "run",
    help=_(
        "Run the gateway, the configured pollers and sinks and the projections together, "
        "until Ctrl-C or SIGTERM stops them cleanly."
    ),
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=_("Configuration file (default: zwbus.toml in the current folder, when present)."),
)
@click.pass_obj
def run_all(settings: Settings, config_path: Path | None) -> None:
    if config_path is None and DEFAULT_CONFIG.is_file():
        config_path = DEFAULT_CONFIG
    config = read_run_config(config_path)

    started_server = settings.nats_url is None and server.read_info(settings.data_dir) is None
    settings = msgspec.structs.replace(settings, nats_url=server_url(settings))
    try:
        services = collect_services(settings, config)
        if not services:
            raise ConfigError(
                N_("Nothing to run: {path} configures no gateway, poller, sink or projection."),
                path=str(config_path),
            )
        click.echo(_("Bus at {url}").format(url=settings.nats_url))

        def started(service: Service) -> None:
            click.echo(
                _("Started {kind} {name}").format(kind=_(service.kind), name=service.name)
            )

        try:
            run(run_services(services, started=started))
        except Interrupted:
            click.echo(_("Stopped; every part finished its current work."))
    finally:
        if started_server:
            server.stop(settings.data_dir)


KINDS = (N_("gateway"), N_("poller"), N_("sink"), N_("projection"))
"""Service kinds as people read them; listed so that the catalogue translates them."""

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
@click.pass_obj
def run_all(settings: Settings) -> None:
    config = read_run_config(settings.config_file)

    started_server = settings.nats_url is None and server.read_info(settings.data_dir) is None
    settings = msgspec.structs.replace(settings, nats_url=server_url(settings))
    try:
        services = collect_services(settings, config)
        if not services:
            raise ConfigError(
                N_("Nothing to run: {path} configures no gateway, poller, sink or projection."),
                path=str(config.path or DEFAULT_CONFIG),
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

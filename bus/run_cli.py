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
        "Run the gateway, the table pollers, the return-flow sinks and the projections of "
        "the configuration file together, until Ctrl-C or SIGTERM stops them cleanly; the "
        "exit status is then 130.\n\nThe file is --config FILE, else ZWBUS_CONFIG, else "
        "zwbus.toml in the working folder. zwbus run reads its tables [gateway] (the HTTP "
        "gateway, when present), [[sink]] (one per return-flow sink), [run] pollers (poll "
        "profiles, one poller each) and [run] projections (default: every projection); "
        "docs/configuration.md describes every table."
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
            # Exit status 130, as zwbus poll and other commands stopped by Ctrl-C.
            click.echo(_("Stopped; every part finished its current work."))
            raise
    finally:
        if started_server:
            server.stop(settings.data_dir)


KINDS = (N_("gateway"), N_("poller"), N_("sink"), N_("projection"))
"""Service kinds as people read them; listed so that the catalogue translates them."""

"""``zwbus run``: every long-running part of the bus in one process.

Packages contribute services through the ``zwbus.services`` entry-point
group, so ``bus`` starts the gateway, pollers, sinks and projections without
importing the packages that define them. A provider is a function
``provide(settings, config) -> list[Service]`` that reads its own tables of
the configuration file (``[gateway]``, ``[[sink]]``, ``[run]``) and returns
what should run.

All services share one event loop and one task group. Ctrl-C or SIGTERM
cancels the group; each service then stops in its own clean way (the
gateway answers the requests it took, a projection ends after its current
batch, a source after acknowledging its current batch). A service that
fails stops the others, and the failure is reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import structlog

from bus.config import ZwbusConfig, config_path, load_config
from bus.settings import Settings

log = structlog.get_logger(__name__)

ENTRY_POINT_GROUP = "zwbus.services"


@dataclass(frozen=True)
class Service:
    """One long-running part: a label for people and the coroutine that runs it."""

    kind: str
    """``gateway``, ``poller``, ``sink`` or ``projection``."""
    name: str
    run: Callable[[], Awaitable[None]]


Provider = Callable[[Settings, "RunConfig"], list[Service]]


@dataclass(frozen=True)
class RunConfig:
    """The checked configuration file, and where it lies (relative paths start there)."""

    path: Path | None
    tables: ZwbusConfig

    @property
    def folder(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()


def read_run_config(explicit: Path | None) -> RunConfig:
    """Read the configuration file that ``bus.config`` chooses; none gives the defaults.

    The whole file is checked first, so a misspelt table or key stops the
    run instead of leaving a part unstarted or starting every projection.
    """
    path = config_path(explicit)
    if path is None:
        return RunConfig(path=None, tables=ZwbusConfig())
    return RunConfig(path=path, tables=load_config(path))


def collect_services(settings: Settings, config: RunConfig) -> list[Service]:
    """Ask every registered provider for its services, in provider-name order."""
    services: list[Service] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda item: item.name):
        provider: Provider = entry.load()
        services.extend(provider(settings, config))
    return services


async def run_services(
    services: list[Service], *, started: Callable[[Service], None] | None = None
) -> None:
    """Run the services together until cancelled or until one fails."""

    async def supervised(service: Service) -> None:
        log.info("service_started", kind=service.kind, name=service.name)
        if started is not None:
            started(service)
        try:
            await service.run()
        except asyncio.CancelledError:
            log.info("service_stopped", kind=service.kind, name=service.name)
            raise
        except Exception:
            log.exception("service_failed", kind=service.kind, name=service.name)
            raise
        log.info("service_finished", kind=service.kind, name=service.name)

    async with asyncio.TaskGroup() as group:
        for service in services:
            group.create_task(supervised(service), name=f"{service.kind}:{service.name}")

"""The projections' part of ``zwbus run``: each named read model follows its stream.

``[run] projections = ["cases", …]`` chooses them; without it every
registered projection runs.
"""

from __future__ import annotations

from bus.errors import ConfigError
from bus.i18n import N_
from bus.services import RunConfig, Service
from bus.settings import Settings
from projections.registry import PROJECTION_NAMES, build_projection
from projections.runtime import ProjectionRunner


def provide(settings: Settings, config: RunConfig) -> list[Service]:
    """Return a following runner for each chosen projection."""
    chosen = config.tables.run.projections
    names = list(PROJECTION_NAMES) if chosen is None else chosen
    unknown = sorted(set(names) - set(PROJECTION_NAMES))
    if unknown:
        raise ConfigError(
            N_("[run] projections names {name}, which is not a projection; use one of {known}."),
            name=unknown[0],
            known=", ".join(PROJECTION_NAMES),
        )

    def follower(name: str) -> Service:
        async def follow() -> None:
            runner = ProjectionRunner(build_projection(name, settings.data_dir), settings)
            await runner.run(until_caught_up=False)

        return Service(kind="projection", name=name, run=follow)

    return [follower(name) for name in names]

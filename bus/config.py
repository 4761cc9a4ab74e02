"""The zwbus configuration file: settings of one deployment, such as a province's deadlines.

The file is TOML. A command reads the file given with ``--config FILE``,
else the file named by the environment variable ``ZWBUS_CONFIG``, else
``zwbus.toml`` in the working folder. Without any of them the defaults
below apply. Each concern has its own table, for example::

    [reviews]
    callback_days = 5         # working days from the rating to the callback check of a bad review
    rectification_days = 15   # working days from the rating to the rectification report

    [reviews.provinces.44]    # overrides for reviews of one province (2-digit code)
    rectification_days = 10

An unknown table or key is an error, so that a misspelt key cannot
silently leave a default in force.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import msgspec
import structlog

from bus.errors import ConfigError
from bus.i18n import N_

log = structlog.get_logger(__name__)

CONFIG_ENV = "ZWBUS_CONFIG"
DEFAULT_CONFIG_NAME = "zwbus.toml"

MAX_DEADLINE_DAYS = 365
"""Largest deadline accepted, in working days; a larger value is a typing mistake."""

WorkingDays = Annotated[int, msgspec.Meta(ge=0, le=MAX_DEADLINE_DAYS)]
ProvinceCode = Annotated[str, msgspec.Meta(pattern=r"^\d{2}$")]
"""The first 2 digits of a GB/T 2260 region code, such as ``51``."""

DEFAULT_CALLBACK_DAYS = 5
DEFAULT_RECTIFICATION_DAYS = 15
# NOTE: both defaults are the project's own choice, because the national and
# provincial time limits of 好差评 were not available to the project as
# published text. A deployment should set its province's numbers.


class ReviewDeadlines(msgspec.Struct, frozen=True, kw_only=True):
    """Working-day deadlines of a bad review (差评), counted from the rating's business date."""

    callback_days: int
    """Days to check the bad review by calling the rater back (回访核实)."""
    rectification_days: int
    """Days to report the rectification (整改) of a bad review found genuine."""


class ProvinceReviewConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Overrides of one province; a key left out keeps the value of ``[reviews]``."""

    callback_days: WorkingDays | None = None
    rectification_days: WorkingDays | None = None


class ReviewsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[reviews]`` table: deadlines of the review (好差评) read model."""

    callback_days: WorkingDays = DEFAULT_CALLBACK_DAYS
    rectification_days: WorkingDays = DEFAULT_RECTIFICATION_DAYS
    provinces: dict[ProvinceCode, ProvinceReviewConfig] = {}
    """Overrides by 2-digit province code, for a bus that carries several provinces."""

    def deadlines_for(self, region: str) -> ReviewDeadlines:
        """Return the deadlines that apply to a review of the 6-digit ``region``."""
        override = self.provinces.get(region[:2])
        if override is None:
            return ReviewDeadlines(
                callback_days=self.callback_days, rectification_days=self.rectification_days
            )
        return ReviewDeadlines(
            callback_days=(
                self.callback_days if override.callback_days is None else override.callback_days
            ),
            rectification_days=(
                self.rectification_days
                if override.rectification_days is None
                else override.rectification_days
            ),
        )


class ZwbusConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration file, one field per table."""

    reviews: ReviewsConfig = ReviewsConfig()
    # The tables of ``zwbus run``, the gateway and the sinks; their own
    # loaders check them (bus.services, adapters.gateway, adapters.sinks).
    run: dict[str, Any] = {}
    gateway: dict[str, Any] | None = None
    sink: list[dict[str, Any]] = []


def config_path(explicit: Path | None = None) -> Path | None:
    """Return the configuration file to read: ``explicit``, ZWBUS_CONFIG, or ./zwbus.toml.

    Returns None when no file was named and the working folder has no
    ``zwbus.toml``, which means "use the defaults".
    """
    if explicit is not None:
        return explicit
    configured = os.environ.get(CONFIG_ENV, "").strip()
    if configured:
        return Path(configured)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.is_file() else None


def load_config(explicit: Path | None = None) -> ZwbusConfig:
    """Read and check the configuration file that ``config_path`` chooses.

    Raises:
        ConfigError: a named file does not exist or cannot be read, is not
            TOML, or has an unknown key or a value out of range.
    """
    path = config_path(explicit)
    if path is None:
        return ZwbusConfig()

    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(
            N_("Configuration file {path} was not found. Check --config or {variable}, "
               "or remove them to use {default} in the working folder."),
            path=path,
            variable=CONFIG_ENV,
            default=DEFAULT_CONFIG_NAME,
        ) from exc
    except OSError as exc:
        raise ConfigError(
            N_("Configuration file {path} cannot be read: {detail}"),
            path=path,
            detail=exc.strerror or str(exc),
        ) from exc

    try:
        config = msgspec.toml.decode(data, type=ZwbusConfig)
    except msgspec.DecodeError as exc:
        raise ConfigError(
            N_("Configuration file {path} is invalid: {detail}. Correct the file; unknown "
               "tables and keys are rejected, deadlines are 0 to {maximum} working days and "
               "a province is named by 2 digits, such as [reviews.provinces.51]."),
            path=path,
            detail=str(exc),
            maximum=MAX_DEADLINE_DAYS,
        ) from exc
    log.debug("config_loaded", path=str(path))
    return config


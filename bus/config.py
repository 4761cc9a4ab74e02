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

    [run]
    projections = ["cases", "reviews"]   # left out: every projection
    pollers = ["profiles/ga-db.toml"]    # poll profiles, relative to this file

The ``[gateway]`` and ``[[sink]]`` tables are checked in full by their own
loaders (``adapters.gateway.config``, ``adapters.sinks.config``). An unknown
table or key is an error, so that a misspelt key cannot silently leave a
default in force. docs/configuration.md describes every table.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import msgspec
import structlog

from bus.errors import ConfigError
from bus.i18n import N_, _

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


class RunTable(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[run]`` table: what ``zwbus run`` starts besides the gateway and the sinks."""

    projections: list[str] | None = None
    """Projections to follow; None (the key left out) follows every registered projection."""
    pollers: list[str] = []
    """Poll profiles, one table poller each; relative paths start at the file's folder."""


class ZwbusConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration file, one field per table."""

    reviews: ReviewsConfig = ReviewsConfig()
    run: RunTable = RunTable()
    # The gateway's and the sinks' own loaders check these tables in full
    # (adapters.gateway.config, adapters.sinks.config).
    gateway: dict[str, Any] | None = None
    sink: list[dict[str, Any]] = []


TABLES: tuple[str, ...] = ZwbusConfig.__struct_fields__
"""Names of the top-level tables the file may have."""
KNOWN_TABLES = ", ".join(f"[[{name}]]" if name == "sink" else f"[{name}]" for name in TABLES)
"""The tables as they are written in the file: ``[reviews], [run], [gateway], [[sink]]``."""

_TABLE_RULES: dict[str, str] = {
    "reviews": N_(
        "deadlines are 0 to {maximum} working days and a province is named by 2 digits, "
        "such as [reviews.provinces.51]"
    ),
    "run": N_(
        "[run] takes projections (a list of projection names) and pollers (a list of poll "
        "profile paths)"
    ),
    "gateway": N_("[gateway] is a table; the gateway checks its keys when it starts"),
    "sink": N_("each sink is a [[sink]] table; the sinks check their keys when they start"),
}


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
        tables = msgspec.toml.decode(data)
    except msgspec.DecodeError as exc:
        raise ConfigError(
            N_("Configuration file {path} is invalid: {detail}. Correct the TOML syntax "
               "at that place."),
            path=path,
            detail=str(exc),
        ) from exc
    _check_table_names(path, tables)

    try:
        config = msgspec.convert(tables, ZwbusConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(
            N_("Configuration file {path} is invalid: {detail}. Correct the value at that "
               "place: {rule}."),
            path=path,
            detail=str(exc),
            rule=_rule_for(str(exc)),
        ) from exc
    log.debug("config_loaded", path=str(path))
    return config


def _check_table_names(path: Path, tables: dict[str, Any]) -> None:
    unknown = sorted(name for name in tables if name not in TABLES)
    if unknown:
        raise ConfigError(
            N_("Configuration file {path} has an unknown table or key {key} at its top "
               "level. The known tables are {known}; correct the name or remove it."),
            path=path,
            key=unknown[0],
            known=KNOWN_TABLES,
        )


def _rule_for(detail: str) -> str:
    """Return the rule of the table that a msgspec error location such as ``$.run`` names."""
    match = re.search(r"`\$\.(\w+)", detail)
    table = match.group(1) if match else ""
    if table not in _TABLE_RULES:
        return _("the known tables are {known}").format(known=KNOWN_TABLES)
    return _(_TABLE_RULES[table]).format(maximum=MAX_DEADLINE_DAYS)

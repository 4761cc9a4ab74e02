"""The sink configuration file: one ``[[sink]]`` table per return-flow sink.

A sink sends a filtered part of the bus to a lower level or a department,
either by HTTP or into files::

    [[sink]]
    id = "city-5116"                      # a-z, 0-9 and -, at most 40 characters
    target = "http"                       # http or file
    url = "https://city.example/zwbus/events"
    batch_size = 100                      # events per POST
    timeout_s = 10.0                      # per request
    max_attempts = 5                      # failed attempts before an event is dead-lettered
    headers = { Authorization = "Bearer ${CITY_TOKEN}" }
    [sink.backoff]
    initial_s = 0.5                       # wait after the first failure
    max_s = 30.0                          # upper bound of one wait
    multiplier = 2.0
    [sink.filter]
    regions = ["5116"]                    # 2, 4 or 6 digit prefixes of GB/T 2260 codes
    families = ["case", "review"]         # case, review, hall, share, item
    departments = []                      # envelope department codes; empty keeps all
    types = []                            # event types such as case.concluded; empty keeps all

    [[sink]]
    id = "county-511602-archive"
    target = "file"
    directory = "return/511602"           # relative to this file's folder
    format = "csv"                        # jsonl or csv
    [sink.rotation]
    daily = true                          # a new file for each day (China time)
    max_bytes = 50_000_000                # a new file past this size; 0 turns it off

Each ``${NAME}`` in a header value is replaced by the environment variable
``NAME`` when the file is loaded, so that tokens stay out of the file.
Every mistake raises ``ConfigError`` naming the sink, the key, the value,
the rule and the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec

from bus.errors import ConfigError
from bus.i18n import N_, _
from contracts.envelope import CURRENT_VERSIONS

FAMILY_STREAMS: dict[str, str] = {
    "case": "ZW_CASES",
    "review": "ZW_REVIEWS",
    "hall": "ZW_HALL",
    "share": "ZW_SHARING",
    "item": "ZW_ITEMS",
}
"""Stream of each event family, as declared in ``bus.streams``."""

CONTRACT_FAMILIES = frozenset(event_type.split(".", 1)[0] for event_type in CURRENT_VERSIONS)
"""Families whose event types are known to ``contracts``; other families accept any name."""

TargetKind = Literal["http", "file"]
FileFormat = Literal["jsonl", "csv"]

_SINK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_REGION_PREFIX = re.compile(r"[0-9]{2}(?:[0-9]{2}){0,2}")
_EVENT_TYPE = re.compile(r"([a-z]+)\.([a-z_]+)")
_ENVIRONMENT_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_BATCH_SIZE = 1000
MAX_ATTEMPTS = 100
MIN_ROTATION_BYTES = 1024


class Backoff(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Waits between failed HTTP attempts: exponential, bounded, with jitter."""

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0


class Rotation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When a file sink starts a new file."""

    daily: bool = True
    """A new file when the stream time of an event reaches a later day in China time."""
    max_bytes: int = 0
    """A new file before one would grow past this size; 0 means no size limit."""


class Filter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Selection of the events a sink receives; an empty list keeps everything."""

    regions: list[str] = msgspec.field(default_factory=list)
    families: list[str] = msgspec.field(default_factory=list)
    departments: list[str] = msgspec.field(default_factory=list)
    types: list[str] = msgspec.field(default_factory=list)


class SinkConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One validated ``[[sink]]`` table."""

    id: str
    target: TargetKind
    url: str | None = None
    directory: str | None = None
    format: FileFormat = "jsonl"
    rotation: Rotation = msgspec.field(default_factory=Rotation)
    filter: Filter = msgspec.field(default_factory=Filter)
    batch_size: int = 100
    max_attempts: int = 5
    timeout_s: float = 10.0
    backoff: Backoff = msgspec.field(default_factory=Backoff)
    headers: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def families(self) -> list[str]:
        """Families this sink reads, in the order of ``FAMILY_STREAMS``.

        Without a family filter these are the families of the listed event
        types, or every family when no type is listed either.
        """
        chosen = set(self.filter.families)
        if not chosen:
            chosen = {event_type.split(".", 1)[0] for event_type in self.filter.types}
        return [family for family in FAMILY_STREAMS if not chosen or family in chosen]

    @property
    def regions(self) -> list[str]:
        """Region prefixes without those covered by a shorter one (JetStream rejects overlaps)."""
        prefixes = sorted(set(self.filter.regions), key=len)
        kept: list[str] = []
        for prefix in prefixes:
            if not any(prefix.startswith(shorter) for shorter in kept):
                kept.append(prefix)
        return sorted(kept)

    def directory_path(self) -> Path:
        """Return the folder of a file sink; raises ``ConfigError`` for an HTTP sink."""
        if self.directory is None:
            raise ConfigError(N_("Sink {sink} has no directory: it is an HTTP sink."), sink=self.id)
        return Path(self.directory)


class SinksConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Every sink of one configuration file."""

    path: str
    sinks: list[SinkConfig]

    def sink(self, sink_id: str) -> SinkConfig:
        """Return the sink with ``sink_id``; raises ``ConfigError`` listing the known ids."""
        for sink in self.sinks:
            if sink.id == sink_id:
                return sink
        raise ConfigError(
            N_("Sink {sink} is not in {path}; sinks there: {known}."),
            sink=repr(sink_id),
            path=self.path,
            known=", ".join(sink.id for sink in self.sinks),
        )


class _File(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sink: list[dict[str, Any]] = msgspec.field(default_factory=list)
    # The other parts of zwbus.toml, which their own loaders check.
    run: dict[str, Any] | None = None
    gateway: dict[str, Any] | None = None
    reviews: dict[str, Any] | None = None


def load_sinks_config(path: Path) -> SinksConfig:
    """Read and check a sink configuration file.

    Relative directories are resolved against the folder of ``path``.

    Raises:
        ConfigError: the file is missing, is not TOML, or a value breaks a rule.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(N_("Sink configuration {path} not found."), path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            N_("Sink configuration {path} is not valid TOML: {detail}"),
            path=str(path),
            detail=str(exc),
        ) from exc
    try:
        tables = msgspec.convert(raw, _File).sink
    except msgspec.ValidationError as exc:
        raise ConfigError(
            N_("Sink configuration {path} has an unknown top-level table: {detail}. "
               "Describe each sink in a [[sink]] table."),
            path=str(path),
            detail=str(exc),
        ) from exc
    if not tables:
        raise ConfigError(
            N_("Sink configuration {path} has no [[sink]] table. Add one per sink."),
            path=str(path),
        )

    sinks = [_load_sink(path, number, table) for number, table in enumerate(tables, start=1)]
    _check_unique_ids(path, sinks)
    return SinksConfig(path=str(path), sinks=sinks)


def _load_sink(path: Path, number: int, table: dict[str, Any]) -> SinkConfig:
    label = f"[[sink]] #{number} ({table.get('id', '?')})"
    checker = _Checker(path, label)
    checker.check_choices(table)
    try:
        sink = msgspec.convert(table, SinkConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(
            N_("Sink configuration {path}, {sink}: {detail}. Check the key's spelling and "
               "type against docs/sinks.md."),
            path=str(path),
            sink=label,
            detail=str(exc),
        ) from exc

    checker.check(sink)
    if sink.target == "file":
        folder = Path(str(sink.directory))
        if not folder.is_absolute():
            folder = path.parent / folder
        sink = msgspec.structs.replace(sink, directory=str(folder))
    return msgspec.structs.replace(sink, headers=checker.expanded_headers(sink.headers))


def _check_unique_ids(path: Path, sinks: list[SinkConfig]) -> None:
    seen: set[str] = set()
    for sink in sinks:
        if sink.id in seen:
            raise ConfigError(
                N_("Sink configuration {path}: sink id {sink} appears twice. Give every "
                   "sink its own id, because the id names its consumers and files."),
                path=str(path),
                sink=sink.id,
            )
        seen.add(sink.id)


class _Checker:
    """The rules of one sink table; each failure names the key, the value and the fix."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label

    def invalid(self, key: str, value: object, rule: str) -> ConfigError:
        return ConfigError(
            N_("Sink configuration {path}, {sink}: {key} = {value} is invalid. {rule}"),
            path=str(self.path),
            sink=self.label,
            key=key,
            value=repr(value),
            rule=_(rule),
        )

    def check_choices(self, table: dict[str, Any]) -> None:
        """Check the keys with a fixed set of values before the type conversion does."""
        if table.get("target") not in get_args(TargetKind):
            raise self.invalid(
                "target", table.get("target"), N_("Use target = \"http\" or target = \"file\".")
            )
        if table.get("format", "jsonl") not in get_args(FileFormat):
            raise self.invalid(
                "format", table.get("format"), N_("Use format = \"jsonl\" or format = \"csv\".")
            )

    def check(self, sink: SinkConfig) -> None:
        if not _SINK_ID.fullmatch(sink.id):
            raise self.invalid("id", sink.id, N_("Use 1-40 characters of a-z, 0-9 and -."))
        self.check_target(sink)
        self.check_limits(sink)
        self.check_filter(sink.filter)

    def check_target(self, sink: SinkConfig) -> None:
        if sink.target == "http":
            if sink.url is None or not re.fullmatch(r"https?://[^/\s]+(/\S*)?", sink.url):
                raise self.invalid(
                    "url", sink.url, N_("An HTTP sink needs url = \"http://host/path\" or https.")
                )
            if sink.directory is not None:
                raise self.invalid(
                    "directory", sink.directory, N_("Only a file sink has a directory; remove it.")
                )
            return
        if not sink.directory:
            raise self.invalid(
                "directory", sink.directory, N_("A file sink needs directory = \"folder\".")
            )
        if sink.url is not None:
            raise self.invalid("url", sink.url, N_("Only an HTTP sink has a url; remove it."))
        if sink.headers:
            raise self.invalid(
                "headers", sorted(sink.headers), N_("Only an HTTP sink sends headers; remove them.")
            )
        max_bytes = sink.rotation.max_bytes
        if max_bytes != 0 and max_bytes < MIN_ROTATION_BYTES:
            raise self.invalid(
                "rotation.max_bytes",
                max_bytes,
                N_("Use 0 (no size limit) or at least 1024 bytes."),
            )

    def check_limits(self, sink: SinkConfig) -> None:
        if not 1 <= sink.batch_size <= MAX_BATCH_SIZE:
            raise self.invalid("batch_size", sink.batch_size, N_("Use 1 to 1000 events."))
        if not 1 <= sink.max_attempts <= MAX_ATTEMPTS:
            raise self.invalid("max_attempts", sink.max_attempts, N_("Use 1 to 100 attempts."))
        if sink.timeout_s <= 0:
            raise self.invalid("timeout_s", sink.timeout_s, N_("Use a positive number of seconds."))
        backoff = sink.backoff
        if backoff.initial_s <= 0:
            raise self.invalid(
                "backoff.initial_s", backoff.initial_s, N_("Use a positive number of seconds.")
            )
        if backoff.max_s < backoff.initial_s:
            raise self.invalid(
                "backoff.max_s", backoff.max_s, N_("Use a value of at least backoff.initial_s.")
            )
        if backoff.multiplier < 1:
            raise self.invalid(
                "backoff.multiplier", backoff.multiplier, N_("Use a factor of 1 or more.")
            )

    def check_filter(self, chosen: Filter) -> None:
        for region in chosen.regions:
            if not _REGION_PREFIX.fullmatch(region):
                raise self.invalid(
                    "filter.regions",
                    region,
                    N_("Use 2 digits (province), 4 (city) or 6 (county) of a GB/T 2260 "
                       "code, for example 51, 5116 or 511602."),
                )
        for family in chosen.families:
            if family not in FAMILY_STREAMS:
                raise self.invalid(
                    "filter.families",
                    family,
                    N_("Use case, review, hall, share or item."),
                )
        for department in chosen.departments:
            if not department.strip():
                raise self.invalid(
                    "filter.departments", department, N_("Remove the empty department code.")
                )
        for event_type in chosen.types:
            self.check_type(event_type, chosen.families)

    def check_type(self, event_type: str, families: list[str]) -> None:
        match = _EVENT_TYPE.fullmatch(event_type)
        if match is None or match.group(1) not in FAMILY_STREAMS:
            raise self.invalid(
                "filter.types",
                event_type,
                N_("Write the full type, family and name, for example case.concluded."),
            )
        family = match.group(1)
        if family in CONTRACT_FAMILIES and event_type not in CURRENT_VERSIONS:
            raise self.invalid(
                "filter.types",
                event_type,
                N_("No such event type exists in this family; docs/sinks.md lists the types "
                   "of each family."),
            )
        if families and family not in families:
            raise self.invalid(
                "filter.types",
                event_type,
                N_("Its family is not in filter.families; add the family or remove the type."),
            )

    def expanded_headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {name: self.expanded(name, value) for name, value in headers.items()}

    def expanded(self, header: str, value: str) -> str:
        for variable in _ENVIRONMENT_REFERENCE.findall(value):
            if variable not in os.environ:
                raise ConfigError(
                    N_("Sink configuration {path}, {sink}: header {header} refers to the "
                       "environment variable {variable}, which is not set. Set it before "
                       "starting the sink."),
                    path=str(self.path),
                    sink=self.label,
                    header=header,
                    variable=variable,
                )
        return _ENVIRONMENT_REFERENCE.sub(lambda match: os.environ[match.group(1)], value)

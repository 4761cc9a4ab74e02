"""Source profiles: how one department system's export maps onto the case contract.

A profile is a TOML file with a ``[source]`` table, a ``[fields]`` table
(contract field = the department's column name, exact spelling) and the
dictionaries that turn the department's own codes into canonical values:
``[status]``, ``[result]`` and ``[id_types]``. Vendors disagree on codes, so
a value missing from a dictionary is a quarantine reason, never a guess. A
profile for the SQL table poller adds a ``[poll]`` table (``adapters.sql.config``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from adapters.profile_format import profile_format_error
from adapters.sql.config import PollSection, check_poll
from bus.errors import ConfigError
from bus.i18n import N_, LazyText
from contracts.case import CASE_EVENT_NAMES

CODE_FIELDS = frozenset(
    {
        "local_no",
        "item_code",
        "applicant_id_type",
        "department_code",
        "region",
        "phone",
        "status",
        "result",
        "version",
    }
)
"""Identifier and code fields: full-width characters and spaces are normalised."""
ID_FIELDS = frozenset({"applicant_id"})
INT_FIELDS = frozenset({"promised_days"})
TEXT_FIELDS = frozenset({"item_name", "applicant_name", "department_name", "remark"})
"""Free text: only outer whitespace is trimmed, never full-width conversion."""
TIME_FIELDS = frozenset({"status_time"})
CONTRACT_FIELDS = CODE_FIELDS | ID_FIELDS | INT_FIELDS | TEXT_FIELDS | TIME_FIELDS
REQUIRED_MAPPINGS = ("local_no", "status", "status_time", "region")

RESULTS = ("approved", "denied", "voided", "deleted", "forwarded", "returned")
ID_TYPES = ("id_card", "uscc", "org_code", "passport", "other")
FAMILIES = ("case", "review", "hall", "share")
"""Families a source profile may declare in ``source.family``."""
_SOURCE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")

T = TypeVar("T")


class SourceSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    system: str
    name: str = ""
    family: str = "case"
    format: str | None = None
    encoding: str = "auto"
    timezone: str = "Asia/Shanghai"
    cross_level_prefix: str = ""


class Profile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A validated source profile."""

    source: SourceSection
    fields: dict[str, str]
    status: dict[str, str] = {}
    result: dict[str, str] = {}
    id_types: dict[str, str] = {}
    poll: PollSection | None = None
    """Table settings of the SQL table poller; only profiles for ``zwbus poll`` have one."""
    path: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.source.timezone)


def invalid_setting(
    path: Path, key: str, value: object, rule: str, **facts: object
) -> ConfigError:
    """Build the error of one bad profile setting: the file, key, value and the rule it breaks.

    ``rule`` is a message id marked with ``N_`` and filled with ``facts``
    when the error is shown, so that it reads in the screen language.
    """
    return ConfigError(
        N_("Profile {path}: {key} = {value!r} is invalid: {rule}"),
        path=str(path),
        key=key,
        value=value,
        rule=LazyText(rule, **facts),
    )


def read_profile_table(path: Path) -> dict[str, Any]:
    """Read a profile's TOML; raises ``ConfigError`` when it is missing or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(N_("Profile {path} not found."), path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            N_("Profile {path} is not valid TOML: {detail}"), path=str(path), detail=str(exc)
        ) from exc


def convert_profile(path: Path, raw: dict[str, Any], kind: type[T]) -> T:
    """Convert a profile's tables to ``kind``; unknown or mistyped keys raise ``ConfigError``."""
    try:
        return msgspec.convert({**raw, "path": str(path)}, kind)
    except msgspec.ValidationError as exc:
        raise profile_format_error(path, exc, kind) from exc


def load_profile(path: Path) -> Profile:
    """Read and check a case profile; raises ``ConfigError`` naming the key and the fix."""
    return case_profile_from(path, read_profile_table(path))


def case_profile_from(path: Path, raw: dict[str, Any]) -> Profile:
    """Check the tables of a case profile read from ``path``."""
    profile = convert_profile(path, raw, Profile)
    _check_source(path, profile.source)
    _check_fields(path, profile.fields)
    _check_dictionary(path, "status", profile.status, CASE_EVENT_NAMES)
    _check_dictionary(path, "result", profile.result, RESULTS)
    _check_dictionary(path, "id_types", profile.id_types, ID_TYPES)
    if profile.poll is not None:
        check_poll(str(path), profile.poll)
    return profile


def check_source_settings(
    path: Path, *, source_id: str, file_format: str | None, zone: str
) -> None:
    """Check the [source] settings every family shares: id, format and time zone."""
    if not _SOURCE_ID.fullmatch(source_id):
        raise invalid_setting(
            path, "source.id", source_id, N_("use 1-40 characters of a-z, 0-9 and -")
        )
    if file_format not in {None, "csv", "xlsx", "jsonl"}:
        raise invalid_setting(path, "source.format", file_format, N_("use csv, xlsx or jsonl"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid_setting(
            path, "source.timezone", zone, N_("use an IANA zone such as Asia/Shanghai")
        ) from exc


def _check_source(path: Path, source: SourceSection) -> None:
    if source.family != "case":
        raise invalid_setting(
            path,
            "source.family",
            source.family,
            N_("supported families: {families}"),
            families=", ".join(FAMILIES),
        )
    check_source_settings(
        path, source_id=source.id, file_format=source.format, zone=source.timezone
    )


def _check_fields(path: Path, fields: dict[str, str]) -> None:
    for name in fields:
        if name not in CONTRACT_FIELDS:
            known = ", ".join(sorted(CONTRACT_FIELDS))
            raise invalid_setting(
                path, f"fields.{name}", name, N_("known contract fields: {known}"), known=known
            )
    for name in REQUIRED_MAPPINGS:
        if name not in fields:
            raise invalid_setting(
                path, f"fields.{name}", None, N_("this field must be mapped to a column")
            )


def _check_dictionary(
    path: Path, table: str, entries: dict[str, str], allowed: tuple[str, ...]
) -> None:
    for code, canonical in entries.items():
        if canonical not in allowed:
            raise invalid_setting(
                path,
                f"{table}.{code}",
                canonical,
                N_("use one of {allowed}"),
                allowed=", ".join(allowed),
            )

"""Source profiles of the review (好差评), hall (预约/取号/叫号) and sharing (数据共享) families.

A family profile is a TOML file like a case profile. ``[source]`` names the
source and its family, and ``[fields]`` maps contract fields to the
department's columns. ``[events]`` maps the department's event codes to the
family's event names, and ``[codes.<field>]`` tables map coded values
(levels, channels, share types …) to canonical ones. A value missing from a
dictionary is a quarantine reason, never a guess. A profile for the SQL table
poller adds the same ``[poll]`` table as a case profile (``adapters.sql.config``).

``load_source_profile`` reads a profile of any family, cases included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from adapters.family_fields import (
    EVENT_NAMES,
    FAMILIES,
    REQUIRED_MAPPINGS,
    Kind,
    family_choices,
    field_kinds,
    required_fields,
)
from adapters.normalize import normalize_code
from adapters.profile import FAMILIES as ALL_FAMILIES
from adapters.profile import (
    Profile,
    case_profile_from,
    check_source_settings,
    convert_profile,
    invalid_setting,
    read_profile_table,
)
from adapters.sql.config import PollSection, check_poll
from bus.i18n import N_

LEVELS = ("1", "2", "3", "4", "5")
_REVIEW_FOLLOW_UPS = frozenset({"verified", "rectification_assigned", "rectified", "revisited"})


class FamilySource(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    system: str
    family: str
    name: str = ""
    format: str | None = None
    encoding: str = "auto"
    timezone: str = "Asia/Shanghai"
    case_system: str = ""
    """System whose case numbers (办件编号) the records carry in ``local_no``."""


class FamilyProfile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A validated profile of a review, hall or sharing source."""

    source: FamilySource
    fields: dict[str, str]
    events: dict[str, str]
    """Department event code → short event name, such as ``rated``."""
    codes: dict[str, dict[str, str]] = {}
    """Contract field → (department code → canonical value)."""
    poll: PollSection | None = None
    """Table settings of the SQL table poller; only profiles for ``zwbus poll`` have one."""
    path: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.source.timezone)

    @property
    def family(self) -> str:
        return self.source.family


SourceProfile = Profile | FamilyProfile
"""A checked profile of any family."""


def load_source_profile(path: Path) -> SourceProfile:
    """Read and check a profile of any family; raises ``ConfigError`` naming the key and the fix."""
    raw = read_profile_table(path)
    source = raw.get("source")
    family = source.get("family", "case") if isinstance(source, dict) else "case"
    if family not in ALL_FAMILIES:
        raise invalid_setting(
            path,
            "source.family",
            family,
            N_("supported families: {families}"),
            families=", ".join(ALL_FAMILIES),
        )
    if family in FAMILIES:
        return family_profile_from(path, raw)
    return case_profile_from(path, raw)


def family_profile_from(path: Path, raw: dict[str, Any]) -> FamilyProfile:
    """Check the tables of a review, hall or sharing profile read from ``path``."""
    profile = convert_profile(path, raw, FamilyProfile)
    source = profile.source
    if source.family not in FAMILIES:
        raise invalid_setting(
            path,
            "source.family",
            source.family,
            N_("supported families: {families}"),
            families=", ".join(ALL_FAMILIES),
        )
    check_source_settings(
        path, source_id=source.id, file_format=source.format, zone=source.timezone
    )
    _check_fields(path, profile)
    events = _checked_events(path, profile)
    codes = _checked_codes(path, profile)
    _check_event_needs(path, profile, events)
    if profile.poll is not None:
        check_poll(str(path), profile.poll)
    return msgspec.structs.replace(profile, events=events, codes=codes)


def _check_fields(path: Path, profile: FamilyProfile) -> None:
    kinds = field_kinds(profile.family)
    for name, column in profile.fields.items():
        if name not in kinds:
            known = ", ".join(sorted(kinds))
            raise invalid_setting(
                path, f"fields.{name}", name, N_("known contract fields: {known}"), known=known
            )
        if not column.strip():
            raise invalid_setting(path, f"fields.{name}", column, N_("name the column, not ''"))
    for name in REQUIRED_MAPPINGS:
        if name not in profile.fields:
            raise invalid_setting(
                path, f"fields.{name}", None, N_("this field must be mapped to a column")
            )
    if "local_no" in profile.fields and not profile.source.case_system:
        raise invalid_setting(
            path,
            "source.case_system",
            "",
            N_("name the system whose case numbers the local_no column carries"),
        )


def _checked_events(path: Path, profile: FamilyProfile) -> dict[str, str]:
    """Return [events] keyed by normalised code, after checking each event name."""
    allowed = EVENT_NAMES[profile.family]
    if not profile.events:
        raise invalid_setting(
            path,
            "events",
            {},
            N_("map at least one event code to one of {allowed}"),
            allowed=", ".join(allowed),
        )
    events: dict[str, str] = {}
    for code, name in profile.events.items():
        if name not in allowed:
            raise invalid_setting(
                path,
                f"events.{code}",
                name,
                N_("use one of {allowed}"),
                allowed=", ".join(allowed),
            )
        events[normalize_code(code) or code] = name
    return events


def _checked_codes(path: Path, profile: FamilyProfile) -> dict[str, dict[str, str]]:
    """Return the code dictionaries keyed by normalised code, after checking their values."""
    kinds = field_kinds(profile.family)
    coded = sorted(name for name, kind in kinds.items() if kind in {Kind.LEVEL, Kind.CHOICE})
    codes: dict[str, dict[str, str]] = {}
    for field, table in profile.codes.items():
        if field not in coded:
            raise invalid_setting(
                path,
                f"codes.{field}",
                field,
                N_("code tables exist for {fields}"),
                fields=", ".join(coded),
            )
        allowed = LEVELS if kinds[field] is Kind.LEVEL else family_choices(profile.family, field)
        for code, canonical in table.items():
            if canonical not in allowed:
                raise invalid_setting(
                    path,
                    f"codes.{field}.{code}",
                    canonical,
                    N_("use one of {allowed}"),
                    allowed=", ".join(allowed),
                )
        codes[field] = {
            normalize_code(code) or code: canonical for code, canonical in table.items()
        }
    return codes


def _check_event_needs(path: Path, profile: FamilyProfile, events: dict[str, str]) -> None:
    """Make sure every mapped event can find a value for each field its contract requires."""
    mapped = profile.fields.keys()
    for code, name in events.items():
        needed = list(required_fields(f"{profile.family}.{name}"))
        if profile.family == "review" and name == "rated":
            needed.append("local_no|case_code")
        if profile.family == "review" and name in _REVIEW_FOLLOW_UPS and "review_id" not in mapped:
            needed.extend(("local_no|case_code", "channel", "rater"))
        for need in needed:
            options = [f"fields.{option}" for option in need.split("|")]
            if any(option.removeprefix("fields.") in mapped for option in options):
                continue
            if len(options) == 1:
                raise invalid_setting(
                    path,
                    f"events.{code}",
                    name,
                    N_("this event needs {field} mapped to a column"),
                    field=options[0],
                )
            raise invalid_setting(
                path,
                f"events.{code}",
                name,
                N_("this event needs {first} or {second} mapped to a column"),
                first=", ".join(options[:-1]),
                second=options[-1],
            )

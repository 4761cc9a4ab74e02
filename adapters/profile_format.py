"""Profile format errors as a sentence that names the key and the fix.

msgspec reports a profile that does not fit its Struct in English with a
JSON path (``Object contains unknown field `famliy` - at `$.source```).
This module turns the four kinds of error it reports for TOML input (an
unknown key, a missing key, a wrong type and a value outside a fixed set)
into a ``ConfigError`` in the screen language that names the TOML key,
lists the keys or values allowed there, and states what to change.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
from msgspec import inspect

from bus.errors import ConfigError
from bus.i18n import N_, LazyText

_AT = r"(?: - at `(?P<at>[^`]*)`)?$"
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<key>[^`]*)`" + _AT)
_MISSING = re.compile(r"Object missing required field `(?P<key>[^`]*)`" + _AT)
_WRONG_TYPE = re.compile(r"Expected `(?P<expected>[^`]*)`, got `(?P<found>[^`]*)`" + _AT)
_NOT_ALLOWED = re.compile(r"Invalid enum value (?P<value>.+?)" + _AT)

TYPE_LABELS = {
    "str": N_("text in quotes"),
    "int": N_("a whole number"),
    "float": N_("a number"),
    "bool": N_("true or false"),
    "object": N_("a table"),
    "array": N_("a list"),
    "null": N_("nothing"),
}
"""Screen words for the type names msgspec uses in its messages."""


def profile_format_error(path: Path, error: msgspec.ValidationError, kind: type) -> ConfigError:
    """Describe why a profile's tables do not convert to ``kind``."""
    message = str(error)
    if match := _UNKNOWN.match(message):
        return _unknown_key(path, kind, match["key"], _segments(match["at"]))
    if match := _MISSING.match(message):
        return _missing_key(path, match["key"], _segments(match["at"]))
    if match := _WRONG_TYPE.match(message):
        return ConfigError(
            N_("Profile {path}: {key} must be {expected}, not {found}; change the value."),
            path=str(path),
            key=_toml_key(_segments(match["at"])),
            expected=_type_label(match["expected"]),
            found=_type_label(match["found"]),
        )
    if match := _NOT_ALLOWED.match(message):
        segments = _segments(match["at"])
        allowed = _type_at(kind, segments)
        values = allowed.values if isinstance(allowed, inspect.LiteralType) else ()
        return ConfigError(
            N_("Profile {path}: {key} = {value} is not allowed; use one of {allowed}."),
            path=str(path),
            key=_toml_key(segments),
            value=match["value"],
            allowed=", ".join(str(value) for value in values),
        )
    return ConfigError(
        N_("Profile {path} does not match the profile format: {detail}"),
        path=str(path),
        detail=message,
    )


def _unknown_key(path: Path, kind: type, key: str, table: list[str]) -> ConfigError:
    known = ", ".join(_keys_at(kind, table))
    if not table:
        return ConfigError(
            N_(
                "Profile {path}: the table {key} is not known. Check its spelling or remove "
                "it; the known tables are {known}."
            ),
            path=str(path),
            key=key,
            known=known,
        )
    return ConfigError(
        N_(
            "Profile {path}: the key {key} is not known in [{table}]. Check its spelling or "
            "remove it; the known keys there are {known}."
        ),
        path=str(path),
        key=key,
        table=_toml_key(table),
        known=known,
    )


def _missing_key(path: Path, key: str, table: list[str]) -> ConfigError:
    if not table:
        return ConfigError(
            N_("Profile {path}: the table [{key}] is missing; add it."),
            path=str(path),
            key=key,
        )
    return ConfigError(
        N_("Profile {path}: [{table}] lacks the required key {key}; add it."),
        path=str(path),
        key=key,
        table=_toml_key(table),
    )


def _segments(at: str | None) -> list[str]:
    """Split msgspec's JSON path (``$.codes[...].level``) into TOML key parts."""
    if not at:
        return []
    parts = re.findall(r"\.([^.\[]+)|\[[^\]]*\]", at.removeprefix("$"))
    return [part or "*" for part in parts]


def _toml_key(segments: list[str]) -> str:
    return ".".join(segments)


def _type_label(name: str) -> LazyText | str:
    label = TYPE_LABELS.get(name)
    return LazyText(label) if label is not None else name


def _type_at(kind: type, segments: list[str]) -> inspect.Type | None:
    """Return the msgspec type found at ``segments`` of ``kind``, or None when there is none."""
    current: inspect.Type | None = inspect.type_info(kind)
    for segment in segments:
        current = _inner(current, segment)
    return _without_none(current)


def _inner(container: inspect.Type | None, segment: str) -> inspect.Type | None:
    container = _without_none(container)
    if isinstance(container, inspect.StructType):
        fields = {field.encode_name: field.type for field in container.fields}
        return fields.get(segment)
    if isinstance(container, inspect.DictType):
        return container.value_type
    if isinstance(container, inspect.ListType):
        return container.item_type
    return None


def _without_none(kind: inspect.Type | None) -> inspect.Type | None:
    """Return the one type of an optional setting (``PollSection | None``)."""
    if isinstance(kind, inspect.UnionType):
        types = [item for item in kind.types if not isinstance(item, inspect.NoneType)]
        return types[0] if len(types) == 1 else kind
    return kind


def _keys_at(kind: type, table: list[str]) -> list[str]:
    found = _type_at(kind, table)
    if not isinstance(found, inspect.StructType):
        return []
    keys = [field.encode_name for field in found.fields]
    # The loader sets a profile's own path; the file never writes it.
    return keys if table else [key for key in keys if key != "path"]

"""English detail sentences of checks and parsers, each under a stable key.

A ``Problem`` of an identifier check, a value the normaliser rejects and a
record a reader cannot split all explain themselves in one short English
sentence. That sentence becomes the ``detail`` of a quarantine ``Reason``,
is stored with the entry and goes back to senders, so its wording stays
stable. Every producer fills one of these templates with ``detail_text``,
which lets a screen in another language match a stored detail to its
template and values and render the same sentence in that language.

Placeholders hold values as they are to be shown: callers pass ``repr()``
where the sentence quotes a value.
"""

from __future__ import annotations

import string
import types
from collections.abc import Mapping

TEXT_TIME_FORMS = (
    "YYYY-MM-DD HH:MM:SS; YYYY-MM-DD HH:MM; YYYY/MM/DD HH:MM[:SS]; YYYY-MM-DD or YYYY/MM/DD; "
    "YYYYMMDDHHMMSS; YYYYMMDD; ISO 8601 with 'T' and an optional zone or Z"
)

_TEMPLATES = {
    # --- identifier checks (contracts.identifiers) ------------------------
    "placeholder": "all characters are {char}, a placeholder",
    "length": "length is {length}, expected {expected}",
    "length_range": "length is {length}, expected {low} to {high}",
    "length_org_code": "length is {length}, expected 9, or 10 with the hyphen",
    "length_department_code": (
        "length is {length}, expected 18 for a USCC, or 9 or 10 for an organization code"
    ),
    "length_legacy_id_card": "length is 15, expected 18, so convert the legacy number first",
    "uscc_charset": (
        "character {position} is {char}, "
        "not in the USCC alphabet (digits and A-Y without I, O, Z, S, V)"
    ),
    "uscc_region_digit": "character {position} is not a digit in the region part",
    "check_character": "check character is {found}, expected {expected}",
    "uscc_org_check": (
        "character 17 is {found}, expected {expected} by the GB 11714 check of positions 9-17"
    ),
    "uscc_region": (
        "registration region {region} at positions 3-8 has an unknown province {province}"
    ),
    "org_code_hyphen": "a 10-character organization code needs a hyphen at position 9",
    "org_code_charset": "character {position} is {char}, expected 0-9 or A-Z",
    "org_code_check_charset": "check character is {char}, expected 0-9 or X",
    "birth_date_invalid": "birth date at positions 7-14 is not a real calendar date",
    "birth_date_early": "birth date at positions 7-14 is before 1900-01-01",
    "birth_date_future": "birth date at positions 7-14 is in the future",
    "not_digit": "character {position} is not a digit",
    "id_card_lowercase_x": "check character is a lowercase x, expected upper-case X",
    "id_card_check_charset": "check character is not a digit or X",
    "id_card_province": "province at positions 1-2 is not a known region code",
    "mobile_prefix": "a mainland mobile number starts with 13 to 19",
    "region_digits": "a region code has only the digits 0-9",
    "region_province": "province {province} is not known",
    "region_retired": "not in the 2023 list of province {province}, so retired or mistyped",
    "item_code_no_region": "item code has no 12-digit region segment",
    "item_code_shape": (
        "item code does not match <basic>-<region12>-<middle>-<department>-<flag>-<version>"
    ),
    "basic_code_charset": "character {position} is {char}, expected 0-9, A-Z or a hyphen",
    "basic_code_hyphens": "hyphens must separate non-empty segments",
    "local_no_charset": "character {position} is {char}, expected a digit, a letter, '_' or '-'",
    # --- values the normaliser rejects (adapters.normalize) ---------------
    "code_value_type": "invalid code value {value}: expected text or a number, got {type}",
    "code_value_not_finite": "invalid code value {value}: expected a finite number",
    "code_value_lost_digits": (
        "invalid code value {value}: a number of 16 or more digits read as a float may have "
        "lost digits; store the column as text in the source file"
    ),
    "text_value_type": "invalid text value {value}: expected text, got {type}",
    "integer_boolean": "invalid integer {value}: expected a whole number, got a boolean",
    "integer_fraction": "invalid integer {value}: expected a whole number",
    "integer_type": "invalid integer {value}: expected text or a number, got {type}",
    "integer_text": "invalid integer {value}: expected digits such as '15'",
    "yes_no": "invalid yes/no value {value}: expected 1/0, 是/否, true/false or Y/N",
    "time_of_day": "invalid time of day {value}: expected HH:MM or HH:MM:SS",
    "time_of_day_range": "invalid time of day {value}: {error}",
    "time_value": "invalid time value {value}: {reason}; accepted forms: {forms}",
    "time_forms": TEXT_TIME_FORMS,
    "time_forms_excel": TEXT_TIME_FORMS + "; an Excel serial number from {low} to {high}",
    "time_boolean": "a boolean is not a time",
    "time_missing": "the value is missing",
    "time_empty": "the value is empty",
    "time_type": "unsupported type {type}",
    "time_not_finite": "not a finite number",
    "time_excel_refused": "Excel serial numbers are not accepted for this field",
    "time_excel_range": "{serial} is outside the Excel serial range",
    "time_not_calendar": "not a calendar time ({error})",
    "time_unrecognised": "unrecognised form",
    "time_placeholder_year": "year {year} is a placeholder, not a real business time",
    "time_placeholder_date": "{date} is a placeholder date, not a real business time",
    # --- records a reader cannot split (adapters.files, adapters.sql) -----
    "csv_invalid": "invalid CSV: {error}",
    "json_invalid": "invalid JSON: {error}",
    "json_array": "expected a JSON object, got a JSON array",
    "json_string": "expected a JSON object, got a JSON string",
    "json_boolean": "expected a JSON object, got a JSON boolean",
    "json_null": "expected a JSON object, got a JSON null",
    "json_number": "expected a JSON object, got a JSON number",
    "json_key_empty": "key '{key}' is empty after cleaning",
    "json_keys_same": "keys '{first}' and '{second}' are the same after cleaning",
    "stray_cells": "row has values in column(s) {columns} outside the named columns {start}-{end}",
    "column_not_utf8": "column {column} holds bytes that are not UTF-8 text",
    # --- mapping of one record (adapters.family_records) ------------------
    "not_unified_code": "not a unified case code (21 characters ending in a check character)",
    "choice_not_allowed": "{event_type} allows {allowed}, not {value}",
    "code_not_in_table": "not in [codes.{field}]",
    # --- sequence rules (adapters.ingest) ---------------------------------
    "case_closed_at": "case was closed (not accepted or withdrawn) at {time}",
    "waited_since": "waited for {waiting} since {time}",
    "review_level": "level {level}",
    "review_not_genuine": "verified as not genuine",
    "booking_cancelled": "a cancellation of the booking is on the bus",
    "booking_checked_in": "another check-in event of the booking is on the bus",
    "ticket_after": "{event_type} after {furthest}",
    "resource_not_shared": "the catalogue marks it 不予共享 (share type none)",
    "resource_withdrawn": "it was withdrawn from the catalogue",
    "resource_conditional": "resource {resource} is shared on conditions (有条件共享)",
}

DETAIL_TEMPLATES: Mapping[str, str] = types.MappingProxyType(_TEMPLATES)
"""Every detail template by its key, read-only."""


def detail_text(key: str, /, **values: object) -> str:
    """Fill the detail template ``key`` with ``values``.

    Raises:
        KeyError: no template has this key, or a placeholder has no value.
    """
    return DETAIL_TEMPLATES[key].format_map(values)


def placeholders(template: str) -> tuple[str, ...]:
    """Return the placeholder names of a template in the order they appear."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name is not None)

"""Each package's Chinese catalogue translates every message id its code marks with _ or N_.

The ids are extracted from the source with Babel, as ``pybabel extract -k _ -k N_`` does,
and a failure names each id that still needs a msgstr, with the file and line using it.
"""

from __future__ import annotations

import string
from collections import defaultdict
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bus", "adapters", "bench", "projections", "replay")
KEYWORDS = {"_": None, "N_": None}
REPLACEMENT_CHARACTER = "\ufffd"


def _catalogue_path(package: str) -> Path:
    return ROOT / package / "locale" / "zh_CN" / "LC_MESSAGES" / f"{package}.po"


def _translations(package: str) -> dict[str, str]:
    """Map each message id of the package's zh_CN catalogue to its msgstr."""
    with _catalogue_path(package).open("rb") as stream:
        catalogue: Catalog = read_po(stream, locale="zh_CN")
    return {
        message.id: message.string if isinstance(message.string, str) else ""
        for message in catalogue
        if message.id and isinstance(message.id, str)
    }


def _extracted_ids(package: str) -> dict[str, str]:
    """Map each message id marked in the package source to its first location, file:line."""
    locations: dict[str, str] = {}
    extracted = extract_from_dir(
        str(ROOT / package), method_map=[("**.py", "python")], keywords=KEYWORDS
    )
    for file_name, line, message, _comments, _context in extracted:
        if isinstance(message, str) and message:
            locations.setdefault(message, f"{package}/{file_name}:{line}")
    return locations


def _placeholders(text: str) -> list[str]:
    """Return the sorted replacement fields of a str.format template, such as {rate:.0f}."""
    fields = []
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        field = name
        if conversion:
            field += f"!{conversion}"
        if spec:
            field += f":{spec}"
        fields.append("{" + field + "}")
    return sorted(fields)


def _placeholder_problem(message_id: str, translation: str) -> str | None:
    try:
        expected = _placeholders(message_id)
        found = _placeholders(translation)
    except ValueError as exc:
        return f"invalid format string ({exc})"
    if expected != found:
        return f"msgid has {expected}, msgstr has {found}"
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_every_id_translated(package: str) -> None:
    extracted = _extracted_ids(package)
    translations = _translations(package)

    untranslated = [
        f"  {location}: {message_id!r}"
        for message_id, location in extracted.items()
        if not translations.get(message_id)
    ]

    assert extracted, f"no message ids found in {package}/"
    assert not untranslated, (
        f"{_catalogue_path(package).relative_to(ROOT)} needs a msgstr for:\n"
        + "\n".join(untranslated)
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_no_stale_ids(package: str) -> None:
    extracted = _extracted_ids(package)
    translations = _translations(package)

    stale = [f"  {message_id!r}" for message_id in translations if message_id not in extracted]

    assert not stale, (
        f"{_catalogue_path(package).relative_to(ROOT)} has ids no longer used in {package}/; "
        "remove or update them:\n" + "\n".join(stale)
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_placeholders_kept(package: str) -> None:
    translations = _translations(package)

    mismatched = []
    for message_id, translation in translations.items():
        if not translation:
            continue
        problem = _placeholder_problem(message_id, translation)
        if problem is not None:
            mismatched.append(f"  {message_id!r}: {problem}")

    assert not mismatched, (
        f"{_catalogue_path(package).relative_to(ROOT)} changes placeholders in:\n"
        + "\n".join(mismatched)
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_no_replacement_character(package: str) -> None:
    translations = _translations(package)

    damaged = [
        f"  {message_id!r}"
        for message_id, translation in translations.items()
        if REPLACEMENT_CHARACTER in translation
    ]

    assert not damaged, (
        f"{_catalogue_path(package).relative_to(ROOT)} has U+FFFD (a decoding accident) in "
        "the msgstr of:\n" + "\n".join(damaged)
    )


def test_shared_ids_translated_alike() -> None:
    """All catalogues merge into one table at run time, so a shared id must read the same."""
    by_id: dict[str, dict[str, str]] = defaultdict(dict)
    for package in PACKAGES:
        for message_id, translation in _translations(package).items():
            by_id[message_id][package] = translation

    differing = [
        f"  {message_id!r}: "
        + ", ".join(f"{package}.po {text!r}" for package, text in per_package.items())
        for message_id, per_package in by_id.items()
        if len(set(per_package.values())) > 1
    ]

    assert not differing, "ids translated differently across catalogues:\n" + "\n".join(differing)

"""Screen language: gettext catalogues, Simplified Chinese by default.

Message ids are English. Each package keeps its Chinese catalogue as
``<package>/locale/zh_CN/LC_MESSAGES/<package>.po``; all of them are merged
into one translation table when the language is set. The ``.po`` files are
read directly (through Babel) so that no compile step is needed.
"""

from __future__ import annotations

import gettext
import importlib.resources
from functools import cache

from babel.messages.pofile import read_po

PACKAGES_WITH_CATALOGUES = ("bus", "adapters", "projections", "replay", "bench")

_current: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


class _MergedTranslations(gettext.NullTranslations):
    def __init__(self, table: dict[str, str]) -> None:
        super().__init__()
        self._table = table

    def gettext(self, message: str) -> str:
        return self._table.get(message) or message


@cache
def _load_table(language: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for package in PACKAGES_WITH_CATALOGUES:
        folder = importlib.resources.files(package) / "locale" / language / "LC_MESSAGES"
        po_file = folder / f"{package}.po"
        if not po_file.is_file():
            continue
        with po_file.open("rb") as stream:
            catalogue = read_po(stream, locale=language)
        for message in catalogue:
            if message.id and isinstance(message.id, str) and isinstance(message.string, str):
                table[message.id] = message.string
    return table


def set_language(language: str) -> None:
    """Switch every later ``_()`` call to ``language`` (``zh_CN`` or ``en``)."""
    global _current, _language
    _language = language
    if language == "en":
        _current = gettext.NullTranslations()
    else:
        _current = _MergedTranslations(_load_table(language))


def current_language() -> str:
    """Return the language ``_()`` translates into."""
    return _language


def _(message: str) -> str:
    """Translate a message id into the current screen language."""
    return _current.gettext(message)


def N_(message: str) -> str:
    """Mark a message for translation without translating it yet (for constants)."""
    return message

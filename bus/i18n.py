"""Screen language: gettext catalogues, Simplified Chinese by default.

Message ids are English. Each package keeps its Chinese catalogue as
``<package>/locale/zh_CN/LC_MESSAGES/<package>.po``; all of them are merged
into one translation table when the language is set. The ``.po`` files are
read directly (through Babel) so that no compile step is needed.
"""

from __future__ import annotations

import gettext
import importlib
import importlib.resources
from functools import cache

from babel.messages.pofile import read_po

PACKAGES_WITH_CATALOGUES = ("bus", "adapters", "projections", "replay", "bench")
CLICK_CATALOGUE = ("bus", "click")
"""Chinese for the Click library's own messages (usage lines, option errors)."""
CLICK_MODULES = (
    "click.core",
    "click.decorators",
    "click.exceptions",
    "click.formatting",
    "click.parser",
    "click.termui",
    "click.types",
    "click.utils",
)

_current: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


class _MergedTranslations(gettext.NullTranslations):
    def __init__(self, table: dict[str, str], plurals: dict[str, str]) -> None:
        super().__init__()
        self._table = table
        self._plurals = plurals

    def gettext(self, message: str) -> str:
        return self._table.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        # Chinese has one plural form, so the same text serves every count.
        translated = self._plurals.get(singular)
        if translated:
            return translated
        return singular if n == 1 else plural


@cache
def _load_tables(language: str) -> tuple[dict[str, str], dict[str, str]]:
    table: dict[str, str] = {}
    plurals: dict[str, str] = {}
    catalogues = [(package, package) for package in PACKAGES_WITH_CATALOGUES]
    catalogues.append(CLICK_CATALOGUE)
    for package, domain in catalogues:
        folder = importlib.resources.files(package) / "locale" / language / "LC_MESSAGES"
        po_file = folder / f"{domain}.po"
        if not po_file.is_file():
            continue
        with po_file.open("rb") as stream:
            catalogue = read_po(stream, locale=language)
        for message in catalogue:
            if not message.id:
                continue
            if isinstance(message.id, str) and isinstance(message.string, str):
                table[message.id] = message.string
            elif isinstance(message.id, tuple) and message.string and message.string[0]:
                plurals[message.id[0]] = message.string[0]
    return table, plurals


def _install_into_click() -> None:
    # Click binds gettext's functions as module globals `_` and `ngettext`
    # when each module is imported; replacing them routes its messages here.
    for name in CLICK_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = _  # type: ignore[attr-defined]
        if hasattr(module, "ngettext"):
            module.ngettext = _ngettext  # type: ignore[attr-defined]


def set_language(language: str) -> None:
    """Switch every later ``_()`` call to ``language`` (``zh_CN`` or ``en``)."""
    global _current, _language
    _language = language
    if language == "en":
        _current = gettext.NullTranslations()
    else:
        _current = _MergedTranslations(*_load_tables(language))
    _install_into_click()


def current_language() -> str:
    """Return the language ``_()`` translates into."""
    return _language


def _(message: str) -> str:
    """Translate a message id into the current screen language."""
    return _current.gettext(message)


def _ngettext(singular: str, plural: str, count: int) -> str:
    return _current.ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark a message for translation without translating it yet (for constants)."""
    return message


class LazyText:
    """A message that is translated when it is shown, such as a fact of an error.

    A ``BusError`` keeps its facts untranslated for logs and writes its
    sentence in the screen language only when shown. A fact that is itself
    a sentence uses this class to do the same.
    """

    def __init__(self, message: str, /, **facts: object) -> None:
        self.message = message
        self.facts = facts

    def __str__(self) -> str:
        return _(self.message).format(**self.facts)

    def __repr__(self) -> str:
        return f"LazyText({self.message!r})"

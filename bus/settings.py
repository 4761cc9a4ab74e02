"""Settings shared by every command: where the server is, where data lives, the language."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

DEFAULT_DATA_DIR = Path(".zwbus")


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Resolved settings of one command run.

    ``nats_url`` None means "use the embedded server in ``data_dir``, starting
    it when needed".
    """

    nats_url: str | None = None
    data_dir: Path = DEFAULT_DATA_DIR
    lang: str = "zh_CN"
    config_file: Path | None = None
    """The configuration file named by ``--config`` or ZWBUS_CONFIG; None means
    ``zwbus.toml`` in the working folder when it exists (see ``bus.config``)."""


def detect_language(explicit: str | None = None) -> str:
    """Choose the screen language: ``--lang``, ZWBUS_LANG, an English locale, else Chinese."""
    if explicit:
        return normalise_language(explicit)
    configured = os.environ.get("ZWBUS_LANG")
    if configured:
        return normalise_language(configured)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value.lower().startswith("en"):
            return "en"
        if value and not value.startswith(("C", "POSIX")):
            break
    return "zh_CN"


def normalise_language(value: str) -> str:
    """Map ``en``, ``en_US.UTF-8``, ``zh``, ``zh-CN`` … to ``en`` or ``zh_CN``."""
    lowered = value.lower().replace("-", "_")
    if lowered.startswith("en"):
        return "en"
    if lowered.startswith("zh"):
        return "zh_CN"
    raise ValueError(f"unsupported language {value!r}: use zh_CN or en")


def load_settings(
    *,
    nats_url: str | None = None,
    data_dir: Path | None = None,
    lang: str | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Resolve settings from explicit values, then environment variables, then defaults."""
    url = nats_url or os.environ.get("ZWBUS_NATS_URL") or None
    folder = data_dir or Path(os.environ.get("ZWBUS_DATA_DIR", str(DEFAULT_DATA_DIR)))
    configured = os.environ.get("ZWBUS_CONFIG") or None
    config = config_file or (Path(configured) if configured else None)
    return Settings(
        nats_url=url, data_dir=folder, lang=detect_language(lang), config_file=config
    )

"""Pseudonyms of personal and organisation identifiers: HMAC with the SM3 hash.

Read models store an identifier only as its pseudonym (for joining records of
one applicant) and its masked form (for people to read). The key comes from
the environment variable ``ZWBUS_PSEUDONYM_KEY`` (hex, at least 32 bytes) or
from ``<data_dir>/pseudonym.key``, which is created with 32 random bytes and
mode 0600 when neither exists. Anyone with the key can test a guessed
identifier against a pseudonym, so the key file must stay as private as the
raw data.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import structlog
from cryptography.hazmat.primitives import hashes, hmac

from bus.errors import ConfigError
from bus.i18n import N_

log = structlog.get_logger(__name__)

KEY_ENV = "ZWBUS_PSEUDONYM_KEY"
KEY_FILE_NAME = "pseudonym.key"
KEY_BYTES = 32


def key_path(data_dir: Path) -> Path:
    """Return where the pseudonym key file of ``data_dir`` lives."""
    return data_dir / KEY_FILE_NAME


def load_key(data_dir: Path) -> bytes:
    """Return the pseudonym key from the environment, the key file, or a new key file.

    Raises:
        ConfigError: the environment value is not hex of at least 32 bytes,
            or the key file is shorter than 32 bytes.
    """
    configured = os.environ.get(KEY_ENV)
    if configured:
        return _key_from_env(configured)

    path = key_path(data_dir)
    if not path.exists():
        _create_key_file(path)

    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise ConfigError(
            N_("Pseudonym key file {path} holds {size} bytes, expected at least {expected}. "
               "Restore the original file; a new key would change every pseudonym."),
            path=path,
            size=len(key),
            expected=KEY_BYTES,
        )
    return key


def _key_from_env(value: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise ConfigError(
            N_("{variable} must be at least {expected} bytes written as hex digits, for "
               "example the output of: python -c \"import secrets; "
               "print(secrets.token_hex(32))\""),
            variable=KEY_ENV,
            expected=KEY_BYTES,
        )
    return key


def _create_key_file(path: Path) -> None:
    # Write the key under a temporary name and link it into place: a link
    # fails when the name exists, so two processes starting at once end up
    # with the same key, and no reader sees a partly written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_bytes(KEY_BYTES))
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
            log.info("pseudonym_key_created", path=str(path))
    finally:
        temporary.unlink(missing_ok=True)


class Pseudonymizer:
    """Compute HMAC-SM3 pseudonyms with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"pseudonym key must be at least {KEY_BYTES} bytes")
        self._key = key

    def pseudonym(self, identifier: str) -> str:
        """Return the pseudonym of ``identifier`` as 64 lowercase hex digits."""
        mac = hmac.HMAC(self._key, hashes.SM3())
        mac.update(identifier.encode())
        return mac.finalize().hex()

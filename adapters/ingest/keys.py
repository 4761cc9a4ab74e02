"""Key-value keys built from department values that may hold any character."""

from __future__ import annotations

import re

_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def kv_token(value: str) -> str:
    """Encode ``value`` as one key token: characters outside [A-Za-z0-9_-] become =XX."""
    if _SAFE.fullmatch(value):
        return value
    return "".join(
        char if _SAFE.fullmatch(char) else "".join(f"={byte:02X}" for byte in char.encode())
        for char in value
    )

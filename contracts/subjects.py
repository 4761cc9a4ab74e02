"""Subject names on the bus and the encoding of keys into subject tokens.

Subjects carry the region hierarchy as tokens, ``zw.<family>.<province2>.
<city2>.<county2>.<key>``, so that a consumer, mirror or permission can select
a province, a city or a county.
"""

from __future__ import annotations

import re

_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_REGION = re.compile(r"[0-9]{6}")
UNKNOWN_REGION = "000000"
"""Region used in quarantine subjects when a record's own region is invalid."""


def encode_token(key: str) -> str:
    """Encode a key as one NATS subject token.

    Characters outside ``[A-Za-z0-9_-]`` become ``~`` plus two hex digits per
    UTF-8 byte, so dots, spaces, wildcards and Chinese text never split or
    widen a subject.
    """
    if _SAFE_TOKEN.fullmatch(key):
        return key
    parts: list[str] = []
    for char in key:
        if _SAFE_TOKEN.fullmatch(char):
            parts.append(char)
        else:
            parts.extend(f"~{byte:02X}" for byte in char.encode())
    return "".join(parts)


def decode_token(token: str) -> str:
    """Reverse ``encode_token``."""
    if "~" not in token:
        return token
    out = bytearray()
    index = 0
    while index < len(token):
        if token[index] == "~":
            out.append(int(token[index + 1 : index + 3], 16))
            index += 3
        else:
            out.extend(token[index].encode())
            index += 1
    return out.decode()


def region_tokens(region: str) -> str:
    """Return ``51.16.02`` for region 511602."""
    if not _REGION.fullmatch(region):
        raise ValueError(f"region code {region!r} is not 6 digits")
    return f"{region[0:2]}.{region[2:4]}.{region[4:6]}"


def entity_subject(family: str, region: str, key: str) -> str:
    """Subject of an event of ``family`` (case, item, review …) in ``region``."""
    return f"zw.{family}.{region_tokens(region)}.{encode_token(key)}"


def hall_subject(region: str, hall: str, key: str) -> str:
    """Subject of a hall event: ``zw.hall.<region>.<hall>.<booking or ticket id>``."""
    return f"zw.hall.{region_tokens(region)}.{encode_token(hall)}.{encode_token(key)}"


def quarantine_subject(family: str, region: str | None, source_id: str) -> str:
    """Subject of a quarantine entry of a record from ``source_id``."""
    usable = region if region is not None and _REGION.fullmatch(region) else UNKNOWN_REGION
    return f"zw.quarantine.{family}.{region_tokens(usable)}.{encode_token(source_id)}"


def region_filter(family: str, region_prefix: str = "") -> str:
    """Subject filter selecting a province (2 digits), city (4) or county (6) subtree."""
    tokens = [region_prefix[i : i + 2] for i in range(0, len(region_prefix), 2)]
    return ".".join(["zw", family, *tokens, ">"])

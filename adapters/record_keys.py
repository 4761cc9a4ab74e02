"""Record keys: the identity of a source record, used to match a corrected re-send.

A key names the entity, the department's own event code and the business
time. A record whose time could not be read, or broke a rule such as lying
in the future, gets ``-`` in the time's place, so a re-send that corrects
only the time can still find its entry.
"""

from __future__ import annotations

from datetime import UTC, datetime

NO_TIME = "-"


def record_key(entity: str, code: str | None, when: datetime | None) -> str:
    """Build the key of a record of ``entity`` with event ``code`` at ``when``."""
    moment = when.astimezone(UTC).isoformat() if when else NO_TIME
    return f"{entity}|{code or '-'}|{moment}"


def without_time(key: str) -> str | None:
    """Return the key the same record had without a usable time, or None.

    None when the key has no time part (a row id or a file position) or
    is already the key of a record without a time.
    """
    head, separator, moment = key.rpartition("|")
    if not separator or "|" not in head or moment == NO_TIME:
        return None
    return f"{head}|{NO_TIME}"

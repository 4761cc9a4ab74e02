"""The columns of an event flattened into one row, as CSV and Parquet exports write it."""

from __future__ import annotations

FLAT_COLUMNS: tuple[str, ...] = (
    "seq",
    "subject",
    "id",
    "type",
    "version",
    "occurred_at",
    "recorded_at",
    "region",
    "department",
    "key",
    "correlation_id",
    "causation_id",
    "source_adapter",
    "source_system",
    "payload",
)
"""The stream sequence and subject, the envelope's members with ``source`` split in two,
and the payload as JSON text, in order."""

"""The flat row of a replayed event: the columns of the CSV and Parquet exports.

A flat export writes the envelope's members as columns and the payload as
JSON text. ``flat_text_row`` reads an envelope as such a row needs it:
the times stay ISO 8601 text and the payload stays the bytes it was
stored as, so the payload is never decoded into Python objects and
encoded again. The module imports msgspec and one small module of ours,
so that the Parquet writer process starts quickly.
"""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.columns import FLAT_COLUMNS

COLUMNS = FLAT_COLUMNS
"""Columns of the CSV and Parquet exports, in order."""

TIME_COLUMNS = frozenset({"occurred_at", "recorded_at"})
ROW_GROUP_ROWS = 20_000
"""Rows per Parquet row group; at about 1 KB per event that is about 20 MB buffered."""


class _FlatSource(msgspec.Struct, frozen=True):
    adapter: str
    system: str


class FlatEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """The envelope members of a flat row, with the times as text and the payload raw."""

    id: str
    type: str
    version: int
    occurred_at: str
    recorded_at: str
    source: _FlatSource
    region: str
    department: str
    key: str
    correlation_id: str
    causation_id: str | None = None
    payload: msgspec.Raw


_flat_decoder = msgspec.json.Decoder(FlatEnvelope)


def flat_text_row(seq: int, subject: str, envelope: bytes) -> tuple[Any, ...]:
    """Return the values of ``COLUMNS`` for one stored envelope.

    Times are ISO 8601 text with their offset and the payload is UTF-8 JSON bytes.

    Raises:
        msgspec.DecodeError: the bytes lack an envelope member.
    """
    try:
        flat = _flat_decoder.decode(envelope)
    except msgspec.DecodeError as exc:
        raise msgspec.DecodeError(f"sequence {seq} ({subject}): {exc}") from exc
    return (
        seq,
        subject,
        flat.id,
        flat.type,
        flat.version,
        flat.occurred_at,
        flat.recorded_at,
        flat.region,
        flat.department,
        flat.key,
        flat.correlation_id,
        flat.causation_id,
        flat.source.adapter,
        flat.source.system,
        bytes(flat.payload),
    )

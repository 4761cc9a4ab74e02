"""Business times as the read models store them: China Standard Time text with microseconds.

Stored times share one fixed form, ``2026-09-03T10:00:00.000000+08:00``,
so that text order is time order and the first 10 characters are the
business date. ``datetime.isoformat`` takes about three times as long as
msgspec's encoder for the same text, and a projection formats two times
per event, so the encoder writes it and a zero fraction is filled in.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from contracts.identifiers import CHINA_TIME

_WITHOUT_FRACTION = len("2026-09-03T10:00:00+08:00")
_SECONDS_END = len("2026-09-03T10:00:00")
_encoder = msgspec.json.Encoder()
_CHINA_OFFSET = CHINA_TIME.utcoffset(None)


def business_time(moment: datetime) -> str:
    """Format a timezone-aware time as stored: China Standard Time with microseconds."""
    if moment.utcoffset() != _CHINA_OFFSET:
        moment = moment.astimezone(CHINA_TIME)
    text = _encoder.encode(moment)[1:-1].decode()
    if len(text) == _WITHOUT_FRACTION:
        # msgspec leaves out a fraction of zero.
        return f"{text[:_SECONDS_END]}.000000{text[_SECONDS_END:]}"
    return text

"""A new source on the adapter SDK: an append-only JSON Lines log, resumed by byte offset.

A department system appends one JSON object per case status change to a log
file. This source decodes the complete lines written since its stored offset
into ``SourceRecord`` batches, and the profile maps their keys onto the
contract. ``run_source`` does the rest: outcomes, quarantine, parking,
publishing, the stored offset, heartbeats and logs.

Run it as ``python jsonl_log_source.py PROFILE LOG`` with ``ZWBUS_NATS_URL``
set, or without it to use the embedded server of ``./.zwbus``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
from rich.console import Console

from adapters.profile import Profile, load_profile
from adapters.sdk import Batch, Source, SourceContext, SourcePosition, SourceRecord, run_source
from adapters.summary import print_tally
from bus.i18n import set_language
from bus.runner import run
from bus.settings import load_settings

BATCH_SIZE = 200


class Offset(msgspec.Struct):
    """How far the log was read: bytes and complete lines."""

    byte: int = 0
    lines: int = 0


class JsonLinesLog(Source):
    """Lines appended to one JSON Lines log file."""

    kind = "log"

    def __init__(self, profile: Profile, path: Path) -> None:
        self.profile = profile
        self.path = path

    async def batches(self, context: SourceContext) -> AsyncIterator[Batch]:
        offset = await context.positions.get("log", Offset) or Offset()
        records: list[SourceRecord] = []
        with self.path.open("rb") as stream:
            stream.seek(offset.byte)
            for line in stream:
                if not line.endswith(b"\n"):
                    break  # the system is still writing this line; read it next time
                offset = Offset(byte=offset.byte + len(line), lines=offset.lines + 1)
                records.append(decode_line(line, offset.lines))
                if len(records) == BATCH_SIZE:
                    yield Batch(records, self.path.name, SourcePosition("log", offset))
                    records = []
        if records:
            yield Batch(records, self.path.name, SourcePosition("log", offset))


def decode_line(line: bytes, number: int) -> SourceRecord:
    """Decode one line; a line that is not a JSON object becomes a record with ``error`` set."""
    try:
        text = line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        return SourceRecord(number, number, {}, f"not UTF-8: {exc}", line.hex())
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as exc:
        return SourceRecord(number, number, {}, f"invalid JSON: {exc}", text)
    if not isinstance(fields, dict):
        return SourceRecord(number, number, {}, "not a JSON object", text)
    return SourceRecord(number, number, fields, None, text)


def main(arguments: list[str]) -> int:
    profile_path, log_path = (Path(argument) for argument in arguments)
    settings = load_settings()
    set_language(settings.lang)
    source = JsonLinesLog(load_profile(profile_path), log_path)
    tally = run(run_source(settings, source))
    print_tally(Console(), tally, english=settings.lang == "en")
    return 0 if tally.reconciles else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""File sinks: formats, rotation by size and day, restart, and repair of a torn batch."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.sinks.config import load_sinks_config
from adapters.sinks.file_format import BOM, CSV_COLUMNS
from adapters.sinks.file_target import FileTarget
from adapters.sinks.position import LanePosition, SinkStateError
from adapters.sinks.selection import EventHead, Incoming
from bus.settings import Settings
from contracts.envelope import encode_event
from tests.adapters.sinks.helpers import (
    case,
    file_sink,
    jsonl_ids,
    publish,
    run_once,
    write_config,
)

Bus = tuple[Client, JetStreamContext]


def _position_file(folder: Path, sink: str = "county") -> Path:
    return folder / f".{sink}.case.position.json"


async def test_jsonl_lines_are_envelopes_with_seq(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    events = [case("J1"), case("J1", "accepted")]
    await publish(client, events)
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))

    await run_once(settings, config)

    files = sorted((tmp_path / "out").glob("*.jsonl"))
    lines = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
    assert len(files) == 1
    assert files[0].name.startswith("county.case.")
    assert files[0].name.endswith(".0001.jsonl")
    assert [line["seq"] for line in lines] == [1, 2]
    assert lines[0]["subject"] == "zw.case.51.16.02.J1"
    assert {key: value for key, value in lines[0].items() if key not in {"seq", "subject"}} == (
        json.loads(encode_event(events[0]))
    )


async def test_csv_has_bom_header_and_chinese(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    event = case("V1")
    await publish(client, [event])
    config = write_config(
        tmp_path / "sinks.toml", file_sink("county", tmp_path / "out", format="csv")
    )

    await run_once(settings, config)

    (path,) = sorted((tmp_path / "out").glob("*.csv"))
    raw = path.read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert raw.startswith(BOM)
    assert raw.count(BOM) == 1
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert rows[0]["id"] == event.id
    assert rows[0]["seq"] == "1"
    assert rows[0]["source_system"] == "GA-SPXT"
    assert json.loads(rows[0]["payload"])["applicant_name"] == "张三"


async def test_size_rotation_keeps_order(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, _js = bus
    published = await publish(client, [case(f"Z{n:03d}") for n in range(40)])
    config = write_config(
        tmp_path / "sinks.toml",
        file_sink("county", tmp_path / "out", batch_size=7, rotation={"max_bytes": 4096}),
    )

    await run_once(settings, config)

    files = sorted((tmp_path / "out").glob("*.jsonl"))
    parts = [int(path.name.split(".")[3]) for path in files]
    assert len(files) > 2
    assert parts == list(range(1, len(files) + 1))
    assert all(path.stat().st_size <= 4096 for path in files)
    assert jsonl_ids(tmp_path / "out") == [message.id for message in published]


async def test_restart_appends_after_last_line(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    first = await publish(client, [case(f"P{n}") for n in range(9)])
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))
    await run_once(settings, config)
    second = await publish(client, [case(f"Q{n}") for n in range(4)])

    summaries = await run_once(settings, config)

    assert jsonl_ids(tmp_path / "out") == [message.id for message in first + second]
    assert summaries[0].delivered == 4
    assert len(list((tmp_path / "out").glob("*.jsonl"))) == 1


async def test_torn_batch_cut_on_restart(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, _js = bus
    first = await publish(client, [case(f"U{n}") for n in range(5)])
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))
    await run_once(settings, config)
    (path,) = sorted((tmp_path / "out").glob("*.jsonl"))
    with path.open("ab") as stream:
        # Longer than what the restart writes, so only a truncation removes it.
        stream.write(b'{"seq":6,"subject":"zw.case.51.16.02.torn","id":"' + b"x" * 20_000)
    later = path.with_name(path.name.replace(".0001.", ".0002."))
    later.write_bytes(b'{"seq":7}\n')
    second = await publish(client, [case(f"V{n}") for n in range(3)])

    await run_once(settings, config)

    assert jsonl_ids(tmp_path / "out") == [message.id for message in first + second]
    assert not later.exists()


async def test_collected_file_starts_next_part(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    await publish(client, [case("M1")])
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))
    await run_once(settings, config)
    (path,) = sorted((tmp_path / "out").glob("*.jsonl"))
    path.rename(tmp_path / path.name)
    later = await publish(client, [case("M2")])

    await run_once(settings, config)

    (new_path,) = sorted((tmp_path / "out").glob("*.jsonl"))
    assert new_path.name == path.name.replace(".0001.", ".0002.")
    assert jsonl_ids(tmp_path / "out") == [later[0].id]


async def test_shortened_file_rejected(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, _js = bus
    await publish(client, [case("N1"), case("N2")])
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))
    await run_once(settings, config)
    (path,) = sorted((tmp_path / "out").glob("*.jsonl"))
    path.write_bytes(path.read_bytes()[:10])

    with pytest.raises(SinkStateError, match="recorded as written"):
        await run_once(settings, config)


async def test_files_without_record_rejected(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    await publish(client, [case("O1")])
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))
    await run_once(settings, config)
    _position_file(tmp_path / "out").unlink()

    with pytest.raises(SinkStateError, match="position record is missing"):
        await run_once(settings, config)

    assert len(jsonl_ids(tmp_path / "out")) == 1


def test_daily_rotation_follows_stream_day(tmp_path: Path) -> None:
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))
    sink = load_sinks_config(config).sinks[0]
    target = FileTarget(sink, "case", LanePosition(sink="county", stream="ZW_CASES"))
    target.recover()
    moments = [
        datetime(2026, 10, 12, 15, 59, tzinfo=UTC),
        datetime(2026, 10, 12, 16, 1, tzinfo=UTC),
        datetime(2026, 10, 12, 17, 0, tzinfo=UTC),
        datetime(2026, 10, 12, 3, 0, tzinfo=UTC),
    ]

    target.deliver([_incoming(seq, moment) for seq, moment in enumerate(moments, start=1)])
    target.close()

    names = sorted(path.name for path in (tmp_path / "out").glob("*.jsonl"))
    assert names == ["county.case.20261012.0001.jsonl", "county.case.20261013.0001.jsonl"]
    assert len(jsonl_ids(tmp_path / "out", names[1])) == 3
    assert target.position.file == names[1]


def _incoming(seq: int, stored_at: datetime) -> Incoming:
    event = case(f"D{seq}")
    return Incoming(
        seq=seq,
        subject=f"zw.case.51.16.02.D{seq}",
        data=msgspec.json.encode(event),
        stored_at=stored_at,
        head=EventHead(id=event.id, type=event.type, department=event.department),
        kept=True,
    )

"""JSON Lines, CSV and Parquet exports read back to the same events, and safe output files."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from contracts.envelope import CURRENT_VERSIONS, Envelope, encode_event
from replay.exporters import (
    Format,
    ParquetExporter,
    ParquetUnavailableError,
    export_events,
    load_pyarrow,
    open_exporter,
    output_file,
)
from replay.filters import select
from replay.flat import COLUMNS
from replay.parquet_process import ParquetWriteError
from replay.reader import ReplayWindow
from tests.projections.helpers import at, case_event, publish, publish_raw
from tests.replay import Bus, flow

REMARK = '第一行,含逗号\n第二行 "引号"'


def _events() -> list[Envelope]:
    return [
        *flow("C1"),
        case_event("submitted", "C2", at("2026-10-13"), remark=REMARK),
    ]


async def _export(js: Any, path: Path, file_format: Format, **options: Any) -> None:
    with output_file(path) as output:
        exporter = open_exporter(file_format, output, **options)
        try:
            await export_events(js, select(), ReplayWindow(), exporter, batch_size=2)
        finally:
            exporter.close()


async def test_jsonl_round_trip(bus: Bus, tmp_path: Path) -> None:
    client, js = bus
    events = _events()
    seqs = await publish(client, events)
    path = tmp_path / "cases.jsonl"

    await _export(js, path, "jsonl")

    lines = path.read_bytes().splitlines()
    records = [msgspec.json.decode(line) for line in lines]
    assert [record["id"] for record in records] == [event.id for event in events]
    assert [record["seq"] for record in records] == seqs
    assert list(records[0])[:3] == ["seq", "subject", "id"]
    assert records[0]["subject"] == "zw.case.51.16.02.C1"
    envelopes = [
        msgspec.json.decode(line, type=Envelope, strict=False) for line in lines
    ]
    assert envelopes == events
    assert records[3]["payload"]["remark"] == REMARK


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
async def test_csv_round_trip(bus: Bus, tmp_path: Path, encoding: str) -> None:
    client, js = bus
    events = _events()
    seqs = await publish(client, events)
    path = tmp_path / "cases.csv"

    await _export(js, path, "csv", csv_encoding=encoding)

    with path.open(encoding=encoding, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == COLUMNS
    assert [row["id"] for row in rows] == [event.id for event in events]
    assert [int(row["seq"]) for row in rows] == seqs
    assert rows[0]["occurred_at"] == "2026-10-12T09:00:00+08:00"
    assert rows[0]["source_system"] == "GA-SPXT"
    assert rows[0]["causation_id"] == ""
    assert msgspec.json.decode(rows[3]["payload"])["remark"] == REMARK
    assert rows[3]["type"] == "case.submitted"


async def test_parquet_round_trip_in_row_groups(bus: Bus, tmp_path: Path) -> None:
    client, js = bus
    events = [event for index in range(10) for event in flow(f"C{index}")]
    await publish(client, events)
    path = tmp_path / "cases.parquet"

    await _export(js, path, "parquet", row_group_rows=8)

    parquet = pq.ParquetFile(path)
    table = parquet.read()
    assert table.column_names == list(COLUMNS)
    assert table.column("id").to_pylist() == [event.id for event in events]
    assert parquet.metadata.num_row_groups == 4
    assert parquet.metadata.row_group(0).num_rows == 8
    occurred = table.column("occurred_at").to_pylist()
    assert occurred == [event.occurred_at for event in events]
    payload = msgspec.json.decode(table.column("payload")[2].as_py())
    assert payload["result"] == "approved"


async def test_parquet_of_empty_window(bus: Bus, tmp_path: Path) -> None:
    _client, js = bus
    path = tmp_path / "empty.parquet"

    await _export(js, path, "parquet")

    table = pq.read_table(path)
    assert table.num_rows == 0
    assert table.column_names == list(COLUMNS)


def test_missing_pyarrow_explains_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)

    with pytest.raises(ParquetUnavailableError) as caught:
        load_pyarrow()

    assert "pip install 'zwbus[parquet]'" in str(caught.value)


def test_output_file_replaced_only_on_success(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"old\n")

    with pytest.raises(RuntimeError), output_file(path) as output:
        output.write(b"half")
        raise RuntimeError("stopped")
    kept = path.read_bytes()
    with output_file(path) as output:
        output.write(b"new\n")

    assert kept == b"old\n"
    assert path.read_bytes() == b"new\n"
    assert sorted(item.name for item in tmp_path.iterdir()) == ["out.jsonl"]


async def test_jsonl_copies_current_envelope_bytes(bus: Bus, tmp_path: Path) -> None:
    """An envelope in the current version is written as stored, key order and all."""
    _client, js = bus
    event = case_event("accepted", "C7", at("2026-10-12"), promised_days=3)
    stored = msgspec.json.encode(dict(reversed(msgspec.json.decode(encode_event(event)).items())))
    seq = await publish_raw(js, "zw.case.51.16.02.C7", stored, event.id)
    path = tmp_path / "raw.jsonl"

    await _export(js, path, "jsonl")

    [line] = path.read_bytes().splitlines()
    assert line == b'{"seq":%d,"subject":"zw.case.51.16.02.C7",%b' % (seq, stored[1:])


async def test_jsonl_encodes_envelope_spread_over_lines(bus: Bus, tmp_path: Path) -> None:
    _client, js = bus
    event = case_event("accepted", "C8", at("2026-10-12"), promised_days=3)
    pretty = msgspec.json.format(encode_event(event), indent=2)
    await publish_raw(js, "zw.case.51.16.02.C8", pretty, event.id)
    path = tmp_path / "pretty.jsonl"

    await _export(js, path, "jsonl")

    [line] = path.read_bytes().splitlines()
    assert msgspec.json.decode(line, type=Envelope, strict=False) == event


async def test_jsonl_counts_undecodable_without_payload_decode(bus: Bus, tmp_path: Path) -> None:
    client, js = bus
    await publish(client, flow("C1"))
    await publish_raw(js, "zw.case.51.16.02.C1", b'{"type":"case.unknown"}', "bad-type")
    path = tmp_path / "mixed.jsonl"

    with output_file(path) as output:
        exporter = open_exporter("jsonl", output)
        result = await export_events(js, select(), ReplayWindow(), exporter)
        exporter.close()

    assert len(path.read_bytes().splitlines()) == 3
    assert result.counts.kept == 3
    assert result.counts.undecodable == 1


@pytest.mark.parametrize("mask", [False, True])
async def test_parquet_rows_equal_decoded_events(
    bus: Bus, tmp_path: Path, mask: bool
) -> None:
    """Raw envelopes, envelopes spread over lines and masked ones give the same rows."""
    client, js = bus
    events = _events()
    await publish(client, events)
    spread = case_event("accepted", "C8", at("2026-10-12"), promised_days=3)
    pretty = msgspec.json.format(encode_event(spread), indent=2)
    await publish_raw(js, "zw.case.51.16.02.C8", pretty, spread.id)
    events.append(spread)
    path = tmp_path / "mixed.parquet"

    with output_file(path) as output:
        exporter = open_exporter("parquet", output)
        await export_events(js, select(), ReplayWindow(), exporter, mask=mask)
        exporter.close()

    rows = pq.read_table(path).to_pylist()
    assert [row["id"] for row in rows] == [event.id for event in events]
    assert [row["occurred_at"] for row in rows] == [event.occurred_at for event in events]
    assert [row["recorded_at"] for row in rows] == [event.recorded_at for event in events]
    assert [row["source_system"] for row in rows] == [event.source.system for event in events]
    submitted = msgspec.json.decode(rows[3]["payload"])
    assert submitted["remark"] == REMARK
    applicant = events[3].payload.applicant_id  # type: ignore[union-attr]
    assert (submitted["applicant_id"] == applicant) is not mask
    plain = [msgspec.json.decode(row["payload"]) for row in rows if row["type"] != "case.submitted"]
    assert plain == [
        msgspec.to_builtins(event.payload) for event in events if event.type != "case.submitted"
    ]


async def test_parquet_in_memory_equals_file(bus: Bus, tmp_path: Path) -> None:
    """A file is written by the writer process, a buffer in this process: same rows."""
    client, js = bus
    await publish(client, [event for index in range(3) for event in flow(f"C{index}")])
    path = tmp_path / "file.parquet"
    await _export(js, path, "parquet", row_group_rows=5)
    buffer = io.BytesIO()

    exporter = open_exporter("parquet", buffer, row_group_rows=5)
    await export_events(js, select(), ReplayWindow(), exporter, batch_size=2)
    exporter.close()

    assert isinstance(open_exporter("parquet", io.BytesIO()), ParquetExporter)
    assert pq.read_table(buffer).equals(pq.read_table(path))
    assert pq.ParquetFile(path).metadata.num_row_groups == 2


async def test_parquet_writer_failure_names_the_message(bus: Bus, tmp_path: Path) -> None:
    """An envelope that lacks a member of the flat row stops the export with its sequence."""
    client, js = bus
    await publish(client, flow("C1"))
    head_only = b'{"type":"case.accepted","version":%d,"key":"C2"}' % (
        CURRENT_VERSIONS["case.accepted"]
    )
    seq = await publish_raw(js, "zw.case.51.16.02.C2", head_only, "head-only")
    path = tmp_path / "broken.parquet"

    with pytest.raises(ParquetWriteError) as caught:
        await _export(js, path, "parquet")

    assert f"sequence {seq}" in str(caught.value)
    assert not path.exists()

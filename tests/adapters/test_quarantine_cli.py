"""Tests of ``zwbus ingest``, ``zwbus items import`` and ``zwbus quarantine`` run as commands.

One nats-server serves the whole module: it is loaded once with a catalogue
and an export holding one good and two rejected records, and the tests only
read from it.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.quarantine_export import CSV_COLUMNS
from adapters.quarantine_view import fold_quarantine
from bus import server
from bus.connect import open_bus
from bus.settings import Settings
from contracts.identifiers import mask_identifier
from tests.adapters.helpers import (
    INVALID_ID,
    SOURCE_ID,
    case_row,
    write_csv,
    write_item_catalogue,
    write_profile,
)

ZWBUS = Path(sys.executable).parent / "zwbus"
CJK = re.compile(r"[\u4e00-\u9fff]")
_LANGUAGE_VARIABLES = ("LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")


@dataclass(frozen=True)
class LoadedBus:
    """A running server with quarantined records, and what loading it printed."""

    url: str
    data_dir: Path
    items_summary: dict[str, object]
    ingest_summary: dict[str, object]
    ingest_exit_code: int
    entry_ids: dict[str, str]
    """Entry id by reason code."""


def _environment(columns: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ZWBUS_") and key not in _LANGUAGE_VARIABLES
    }
    environment["COLUMNS"] = columns
    return environment


def _zwbus(
    loaded: LoadedBus, *arguments: str, lang: str | None = "en", columns: str = "200"
) -> subprocess.CompletedProcess[str]:
    language = ["--lang", lang] if lang else []
    return subprocess.run(
        [
            str(ZWBUS),
            *language,
            "--nats-url",
            loaded.url,
            "--data-dir",
            str(loaded.data_dir),
            *arguments,
        ],
        capture_output=True,
        text=True,
        env=_environment(columns),
        timeout=60,
        check=False,
    )


async def _entry_ids(settings: Settings) -> dict[str, str]:
    async with open_bus(settings) as (_client, js):
        states = await fold_quarantine(js, source_id=SOURCE_ID)
    return {state.entry.reasons[0].code: entry_id for entry_id, state in states.items()}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedBus]:
    folder = tmp_path_factory.mktemp("quarantine-cli")
    info = server.start(folder / "nats", port=server.free_port())
    try:
        bare = LoadedBus(info.url, folder / "data", {}, {}, 0, {})
        items = _zwbus(
            bare, "items", "import", str(write_item_catalogue(folder / "items.json")), "--json"
        )
        rows = [
            case_row("Q1", "submitted", "2024-03-01 09:00:00"),
            case_row("Q2", "submitted", "2024-03-01 09:00:00", id_no=INVALID_ID),
            case_row("Q3", "submitted", "2024-03-01 09:00:00", status="99"),
        ]
        profile = write_profile(folder / "profile.toml")
        export = write_csv(folder / "export.csv", rows)
        ingest = _zwbus(bare, "ingest", "--profile", str(profile), str(export), "--json")
        assert items.returncode == 0, items.stderr
        settings = Settings(nats_url=info.url, data_dir=folder / "data", lang="en")
        yield LoadedBus(
            url=info.url,
            data_dir=folder / "data",
            items_summary=json.loads(items.stdout),
            ingest_summary=json.loads(ingest.stdout),
            ingest_exit_code=ingest.returncode,
            entry_ids=asyncio.run(_entry_ids(settings)),
        )
    finally:
        server.stop(folder / "nats")


# Loading ----------------------------------------------------------------------


def test_items_import_json_summary(loaded: LoadedBus) -> None:
    totals = loaded.items_summary["totals"]

    assert totals == {"read": 1, "published": 1, "duplicates": 0, "quarantined": 0, "parked": 0}


def test_ingest_json_summary(loaded: LoadedBus) -> None:
    summary = loaded.ingest_summary

    assert loaded.ingest_exit_code == 0
    assert summary["totals"] == {
        "read": 3,
        "published": 1,
        "duplicates": 0,
        "quarantined": 2,
        "parked": 0,
    }
    assert summary["reconciles"] is True
    assert summary["quarantined_by_reason"] == {"id_card_invalid": 1, "status_unmapped": 1}
    assert sorted(loaded.entry_ids) == ["id_card_invalid", "status_unmapped"]


# list -------------------------------------------------------------------------


def test_list_english(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list")

    assert result.returncode == 0, result.stderr
    assert "id_card_invalid" in result.stdout
    assert "status_unmapped" in result.stdout
    assert "2 of 2 entries shown." in result.stdout
    for entry_id in loaded.entry_ids.values():
        assert entry_id[:12] in result.stdout
    assert "export.csv#2" in result.stdout
    assert not CJK.search(result.stdout)


def test_list_filtered_by_reason(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list", "--reason", "id_card_invalid")

    assert result.returncode == 0, result.stderr
    assert "1 of 1 entries shown." in result.stdout
    assert "status_unmapped" not in result.stdout


def test_list_resolved_empty(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list", "--status", "resolved")

    assert result.returncode == 0, result.stderr
    assert "No entries match." in result.stdout
    assert "entries shown" not in result.stdout


def test_list_by_source(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list", "--source", SOURCE_ID, "--limit", "1")

    assert result.returncode == 0, result.stderr
    assert "1 of 2 entries shown." in result.stdout


def test_list_counts_families_apart(tmp_path: Path) -> None:
    """Item catalogue entries and ingest entries are counted per family under the list."""
    info = server.start(tmp_path / "nats", port=server.free_port())
    try:
        bare = LoadedBus(info.url, tmp_path / "data", {}, {}, 0, {})
        catalogue = write_item_catalogue(tmp_path / "items.json", department_code="X")
        _zwbus(bare, "items", "import", str(catalogue))
        rows = [case_row("F1", "submitted", "2024-03-01 09:00:00", id_no=INVALID_ID)]
        profile = write_profile(tmp_path / "profile.toml")
        _zwbus(bare, "ingest", "--profile", str(profile), str(write_csv(tmp_path / "e.csv", rows)))

        result = _zwbus(bare, "quarantine", "list")
    finally:
        server.stop(tmp_path / "nats")

    assert result.returncode == 0, result.stderr
    assert "2 of 2 entries shown." in result.stdout
    assert "By family (--family): case 1, item 1." in result.stdout


def test_list_chinese_by_default(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list", lang=None)

    assert result.returncode == 0, result.stderr
    assert CJK.search(result.stdout)
    assert "entries shown" not in result.stdout
    assert "Reasons" not in result.stdout
    assert "id_card_invalid（字段 id_no）" in result.stdout


def test_list_newest_first(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list")

    assert result.returncode == 0, result.stderr
    assert result.stdout.index("export.csv#3") < result.stdout.index("export.csv#2")


def test_list_names_field_of_each_reason(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list")

    assert result.returncode == 0, result.stderr
    assert "id_card_invalid (id_no)" in result.stdout
    assert "status_unmapped (status)" in result.stdout


def test_list_by_family(loaded: LoadedBus) -> None:
    cases = _zwbus(loaded, "quarantine", "list", "--family", "case")
    items = _zwbus(loaded, "quarantine", "list", "--family", "item")

    assert cases.returncode == 0, cases.stderr
    assert "2 of 2 entries shown." in cases.stdout
    assert "No entries match." in items.stdout


def test_list_limit_tells_how_to_narrow(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list", "--limit", "1")

    assert result.returncode == 0, result.stderr
    assert "1 of 2 entries shown." in result.stdout
    assert "--family" in result.stdout


def test_list_json(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list", "--json")
    documents = json.loads(result.stdout)

    assert result.returncode == 0, result.stderr
    assert [document["position"]["record"] for document in documents] == [3, 2]
    assert {document["entry_id"] for document in documents} == set(loaded.entry_ids.values())
    reason = next(
        document["reasons"][0]
        for document in documents
        if document["reasons"][0]["code"] == "id_card_invalid"
    )
    assert reason["field"] == "id_no"
    assert reason["value"] == mask_identifier(INVALID_ID)
    assert reason["message"].startswith("[id_card_invalid] Resident ID card number")
    assert all(document["status"] == "open" for document in documents)


def test_list_json_messages_in_chinese(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list", "--json", lang=None)
    messages = [
        reason["message"]
        for document in json.loads(result.stdout)
        for reason in document["reasons"]
    ]

    assert result.returncode == 0, result.stderr
    assert all(CJK.search(message) for message in messages)
    assert not any("check character" in message for message in messages)


def test_list_at_80_columns_keeps_ids(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "list", lang=None, columns="80")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for entry_id in loaded.entry_ids.values():
        assert any(entry_id[:12] in line for line in lines)
    assert any("id_card_invalid（字段 id_no）" in line for line in lines)


# show -------------------------------------------------------------------------


def test_show_english(loaded: LoadedBus) -> None:
    entry_id = loaded.entry_ids["id_card_invalid"]

    result = _zwbus(loaded, "quarantine", "show", entry_id[:8])

    assert result.returncode == 0, result.stderr
    assert f"Entry {entry_id}" in result.stdout
    assert f"Source: {SOURCE_ID}" in result.stdout
    assert "[id_card_invalid] Resident ID card number" in result.stdout
    assert "Original record:" in result.stdout
    assert f"Q2,{case_row('Q2', 'submitted', '')['item']}" in result.stdout
    assert INVALID_ID not in result.stdout
    assert mask_identifier(INVALID_ID) in result.stdout
    assert "Status: open" in result.stdout


def test_show_unmask_prints_raw_number(loaded: LoadedBus) -> None:
    entry_id = loaded.entry_ids["id_card_invalid"]

    result = _zwbus(loaded, "quarantine", "show", entry_id[:8], "--unmask")

    assert result.returncode == 0, result.stderr
    assert INVALID_ID in result.stdout


def test_show_chinese_by_default(loaded: LoadedBus) -> None:
    entry_id = loaded.entry_ids["id_card_invalid"]

    result = _zwbus(loaded, "quarantine", "show", entry_id[:8], lang=None)

    assert result.returncode == 0, result.stderr
    assert "居民身份证号码" in result.stdout
    assert "请对照身份证在源系统中更正" in result.stdout


def test_show_ambiguous_prefix_fails(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "show", "")

    assert result.returncode == 1
    assert "matches 2 entries" in result.stderr
    assert "zwbus quarantine list" in result.stderr


def test_show_unknown_prefix_fails(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "show", "zz-no-such-entry")

    assert result.returncode == 1
    assert "No quarantine entry id starts with zz-no-such-entry" in result.stderr


# export -----------------------------------------------------------------------


def test_export_csv_english(loaded: LoadedBus, tmp_path: Path) -> None:
    out = tmp_path / "entries.csv"

    result = _zwbus(loaded, "quarantine", "export", "--format", "csv", "--out", str(out))
    with out.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.DictReader(stream))

    assert result.returncode == 0, result.stderr
    assert "Wrote 2 entries to" in result.stderr
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert {row["reason_codes"] for row in rows} == {"id_card_invalid", "status_unmapped"}
    assert {row["status"] for row in rows} == {"open"}
    assert {row["entry_id"] for row in rows} == set(loaded.entry_ids.values())
    by_code = {row["reason_codes"]: row for row in rows}
    assert by_code["id_card_invalid"]["reasons"].startswith("Resident ID card number")
    assert by_code["id_card_invalid"]["location"] == "export.csv"
    assert by_code["id_card_invalid"]["record"] == "2"
    assert by_code["id_card_invalid"]["line"] == "3"
    assert INVALID_ID not in by_code["id_card_invalid"]["original"]
    assert mask_identifier(INVALID_ID) in by_code["id_card_invalid"]["original"]
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")


def test_export_csv_chinese_by_default(loaded: LoadedBus, tmp_path: Path) -> None:
    out = tmp_path / "entries.csv"

    result = _zwbus(loaded, "quarantine", "export", "--format", "csv", "--out", str(out), lang=None)
    with out.open(encoding="utf-8-sig", newline="") as stream:
        header, *rows = list(csv.reader(stream))
    reasons = header.index("原因")
    fixes = header.index("修正方法")

    assert result.returncode == 0, result.stderr
    assert all(CJK.search(name) for name in header)
    assert any("居民身份证号码" in row[reasons] for row in rows)
    assert all(CJK.search(row[fixes]) for row in rows)


def test_export_jsonl(loaded: LoadedBus, tmp_path: Path) -> None:
    out = tmp_path / "entries.jsonl"

    result = _zwbus(loaded, "quarantine", "export", "--format", "jsonl", "--out", str(out))
    documents = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]

    assert result.returncode == 0, result.stderr
    assert len(documents) == 2
    assert {document["status"] for document in documents} == {"open"}
    assert {document["entry_id"] for document in documents} == set(loaded.entry_ids.values())
    assert all(document["source_id"] == SOURCE_ID for document in documents)
    assert all(document["family"] == "case" for document in documents)
    assert {document["reasons"][0]["code"] for document in documents} == {
        "id_card_invalid",
        "status_unmapped",
    }


def test_export_jsonl_to_stdout(loaded: LoadedBus) -> None:
    result = _zwbus(loaded, "quarantine", "export", "--format", "jsonl", "--status", "all")
    lines = result.stdout.splitlines()

    assert result.returncode == 0, result.stderr
    assert len(lines) == 2
    assert all(json.loads(line)["entry_id"] for line in lines)

"""``zwbus parked list`` against a real nats-server, with parked records of every family.

Each family parks records that wait: a case event before its submission, a
rating of a case not on the bus and a ticket call before the ticket was
issued. The sharing source parks a data request for a resource not in the
catalogue and an objection to that resource.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from adapters.family_profile import load_source_profile
from adapters.file_source import ingest_files
from adapters.items import import_catalogue
from adapters.profile import load_profile
from bus.settings import Settings
from tests.adapters.family_helpers import (
    HALL_PROFILE,
    REVIEW_PROFILE,
    SHARE_PROFILE,
    hall_row,
    review_row,
    share_row,
    write_rows,
    write_text,
)
from tests.adapters.helpers import case_row, write_csv, write_item_catalogue, write_profile

ZWBUS = Path(sys.executable).parent / "zwbus"


async def _park_one_of_each(settings: Settings, folder: Path) -> None:
    await import_catalogue(settings, write_item_catalogue(folder / "items.json"))
    cases = load_profile(write_profile(folder / "case.toml"))
    accepted = [case_row("PC1", "accepted", "2024-03-01 10:00:00")]
    await ingest_files(settings, cases, [write_csv(folder / "cases.csv", accepted)])
    exports = {
        REVIEW_PROFILE: [review_row("PR1", "rated", "2024-03-02 10:00:00")],
        HALL_PROFILE: [hall_row("ticket_called", "2024-03-01 09:00:00", ticket="PT1")],
        SHARE_PROFILE: [
            share_row("request_submitted", "2024-03-01 09:00:00", request="PQ1", resource="PS1"),
            share_row(
                "objection_raised",
                "2024-03-02 09:00:00",
                objection="PO1",
                resource="PS1",
                disputed="PQ1-0001",
                field="出生日期",
                claimed="1990-01-02",
            ),
        ],
    }
    for number, (text, rows) in enumerate(exports.items()):
        profile = load_source_profile(write_text(folder / f"family{number}.toml", text))
        await ingest_files(settings, profile, [write_rows(folder / f"family{number}.csv", rows)])


def _parked_list(
    settings: Settings, *arguments: str, lang: str = "en", columns: str | None = "250"
) -> str:
    """Run ``zwbus parked list``; with ``columns`` None its output has no width to fit."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ZWBUS_") and key not in {"LANG", "LANGUAGE", "LC_ALL", "COLUMNS"}
    }
    if columns is not None:
        environment["COLUMNS"] = columns
    result = subprocess.run(
        [
            str(ZWBUS),
            "--lang",
            lang,
            "--nats-url",
            str(settings.nats_url),
            "--data-dir",
            str(settings.data_dir),
            "parked",
            "list",
            *arguments,
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _rows(output: str) -> dict[str, list[str]]:
    """Map the entity of each table row to its cells."""
    rows: dict[str, list[str]] = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 7 and cells[0] and cells[0] != "Kind":
            rows[cells[1]] = cells
    return rows


async def test_list_names_entity_kind_per_row(settings: Settings, tmp_path: Path) -> None:
    await _park_one_of_each(settings, tmp_path)

    output = await asyncio.to_thread(_parked_list, settings)
    rows = _rows(output)
    kinds = {entity: cells[0] for entity, cells in rows.items()}
    case_code = next(entity for entity, cells in rows.items() if cells[3] == "case.accepted")

    assert "Kind" in output.splitlines()[1]
    assert "Entity" in output.splitlines()[1]
    assert kinds == {
        case_code: "case",
        "PR1": "case",
        "PT1": "ticket",
        "PQ1": "request",
        "PO1": "objection",
    }
    assert rows[case_code][2] == "PC1"
    assert rows["PR1"][2:5] == ["PR1", "review.rated", "case"]
    assert rows["PT1"][2:5] == ["-", "hall.ticket_called", "hall.ticket_issued"]
    assert rows["PQ1"][4] == "share.resource_published"
    assert "5 of 5 parked events shown" in output


async def test_list_filters_by_entity(settings: Settings, tmp_path: Path) -> None:
    await _park_one_of_each(settings, tmp_path)

    by_ticket = await asyncio.to_thread(_parked_list, settings, "--entity", "PT1")
    by_local_number = await asyncio.to_thread(_parked_list, settings, "--case", "PC1")

    assert list(_rows(by_ticket)) == ["PT1"]
    assert [cells[3] for cells in _rows(by_local_number).values()] == ["case.accepted"]
    assert "1 of 1 parked events shown" in by_ticket


async def test_list_in_chinese(settings: Settings, tmp_path: Path) -> None:
    await _park_one_of_each(settings, tmp_path)

    output = await asyncio.to_thread(_parked_list, settings, "--entity", "PQ1", lang="zh_CN")

    assert "申请" in output
    assert "Kind" not in output


async def test_list_keeps_codes_whole_at_80_columns(settings: Settings, tmp_path: Path) -> None:
    await _park_one_of_each(settings, tmp_path)
    wide = _rows(await asyncio.to_thread(_parked_list, settings))
    case_code = next(entity for entity, cells in wide.items() if cells[3] == "case.accepted")

    output = await asyncio.to_thread(_parked_list, settings, lang="zh_CN", columns="80")

    lines = output.splitlines()
    assert any(case_code in line for line in lines)
    assert max(len(line) for line in lines) <= 80
    assert "办件" in output


async def test_list_piped_is_wide(settings: Settings, tmp_path: Path) -> None:
    await _park_one_of_each(settings, tmp_path)

    output = await asyncio.to_thread(_parked_list, settings, columns=None)

    assert list(_rows(output)) == list(_rows(await asyncio.to_thread(_parked_list, settings)))
    assert max(len(line) for line in output.splitlines()) <= 160

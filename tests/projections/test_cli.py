"""The projections and cases commands, in English and Chinese, and their message catalogue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from click.testing import CliRunner, Result

from bus.cli import build_root
from bus.connect import open_bus
from bus.errors import ConfigError
from bus.i18n import set_language
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.identifiers import mask_identifier
from projections.checkpoint_store import StoreNotFoundError
from tests.projections.helpers import (
    APPLICANT_ID,
    at,
    case_event,
    publish,
)

PACKAGE = Path(__file__).resolve().parents[2] / "projections"


def zwbus(settings: Settings, *arguments: str) -> Result:
    """Invoke the root command in this process, returning the command's own exit value."""
    assert settings.nats_url is not None
    return CliRunner().invoke(
        build_root(),
        ["--nats-url", settings.nats_url, "--data-dir", str(settings.data_dir), *arguments],
        standalone_mode=False,
        env={"COLUMNS": "240"},
    )


@pytest.fixture
def projected(settings: Settings) -> Settings:
    """Two cases on the bus and in the case store: C1 concluded late, C2 still open."""

    async def prepare() -> None:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await publish(
                client,
                [
                    case_event("submitted", "C1", at("2026-09-30", "09:00"), local_no="GA-001"),
                    case_event(
                        "accepted",
                        "C1",
                        at("2026-09-30", "10:00"),
                        local_no="GA-001",
                        promised_days=3,
                    ),
                    case_event("concluded", "C1", at("2026-10-12", "10:00"), local_no="GA-001"),
                    case_event(
                        "submitted",
                        "C2",
                        at("2026-10-12", "09:00"),
                        region="511621",
                        local_no="GA-002",
                    ),
                ],
            )

    asyncio.run(prepare())
    result = zwbus(settings, "projections", "run", "cases", "--until-caught-up")
    assert result.exception is None, result.output
    assert "applied 4, skipped 0" in result.stdout
    return settings


def test_show_prints_state_and_history(projected: Settings) -> None:
    result = zwbus(projected, "cases", "show", "C1", "--as-of", "2026-10-20")

    assert result.return_value == 0, result.output
    output = result.stdout
    assert "Unified case code" in output
    assert mask_identifier(APPLICANT_ID) in output
    assert APPLICANT_ID not in output
    assert "2026-10-10" in output
    assert "Overdue as of 2026-10-20" in output
    history = output[output.index("Sequence") :]
    assert history.index("Submitted") < history.index("Accepted") < history.index("Concluded")


def test_show_in_chinese(projected: Settings) -> None:
    set_language("zh_CN")

    result = zwbus(projected, "cases", "show", "C1")

    assert result.return_value == 0, result.output
    assert "统一办件编码" in result.stdout
    assert "办结" in result.stdout
    assert "准予许可" in result.stdout


def test_show_finds_local_case_number(projected: Settings) -> None:
    result = zwbus(projected, "cases", "show", "GA-002", "--json")

    assert result.return_value == 0, result.output
    document = msgspec.json.decode(result.stdout)
    assert document["case"]["code"] == "C2"
    assert document["case"]["applicant_masked"] == mask_identifier(APPLICANT_ID)
    assert [entry["type"] for entry in document["history"]] == ["case.submitted"]
    assert APPLICANT_ID not in result.stdout


def test_show_unknown_case_fails(projected: Settings) -> None:
    result = zwbus(projected, "cases", "show", "NOPE")

    assert result.return_value == 1
    assert "No case has the unified code or local case number NOPE." in result.stderr
    assert "zwbus parked list --case NOPE" in result.stderr


def test_list_filters_and_overdue(projected: Settings) -> None:
    everything = zwbus(projected, "cases", "list", "--json")
    county = zwbus(projected, "cases", "list", "--region", "511602", "--json")
    overdue = zwbus(projected, "cases", "list", "--overdue", "--as-of", "2026-10-11", "--json")
    since = zwbus(projected, "cases", "list", "--since", "2026-10-01", "--json")
    table = zwbus(projected, "cases", "list", "--status", "concluded")

    assert [case["code"] for case in msgspec.json.decode(everything.stdout)] == ["C2", "C1"]
    assert [case["code"] for case in msgspec.json.decode(county.stdout)] == ["C1"]
    assert [case["code"] for case in msgspec.json.decode(overdue.stdout)] == ["C1"]
    assert [case["code"] for case in msgspec.json.decode(since.stdout)] == ["C2"]
    assert "C1" in table.stdout
    assert "C2" not in table.stdout
    assert "1 case(s) shown (limit 50)." in table.stdout


def test_list_rejects_bad_region_prefix(projected: Settings) -> None:
    result = zwbus(projected, "cases", "list", "--region", "511")

    assert isinstance(result.exception, ConfigError)
    assert "give 2 digits" in str(result.exception)


def test_status_reports_lag_zero(projected: Settings) -> None:
    result = zwbus(projected, "projections", "status", "--json")

    assert result.exception is None, result.output
    statuses = {entry["projection"]: entry for entry in msgspec.json.decode(result.stdout)}
    assert set(statuses) == {"cases", "hall", "reviews", "sharing"}
    status = statuses["cases"]
    assert status["stored_sequence"] == 4
    assert status["stream_last_sequence"] == 4
    assert status["lag"] == 0
    assert status["consumer_pending"] == 0
    assert status["consumer_ack_pending"] == 0
    assert status["set_aside"] == 0


def test_status_table_in_chinese(projected: Settings) -> None:
    set_language("zh_CN")

    result = zwbus(projected, "projections", "status")

    assert result.exception is None, result.output
    assert "已存序号" in result.stdout
    assert "滞后" in result.stdout


def test_commands_before_first_run_explain(settings: Settings) -> None:
    result = zwbus(settings, "cases", "list")

    assert isinstance(result.exception, StoreNotFoundError)
    assert "zwbus projections run cases" in str(result.exception)


def test_every_message_has_chinese_translation() -> None:
    with (PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "projections.po").open("rb") as stream:
        catalogue = read_po(stream, locale="zh_CN")
    translated = {
        message.id: message.string for message in catalogue if message.id and message.string
    }

    extracted = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map=[("**.py", "python")], keywords={"_": None, "N_": None}
        )
    }

    assert extracted
    assert sorted(extracted - translated.keys()) == []
    assert sorted(translated.keys() - extracted) == []

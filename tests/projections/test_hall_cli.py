"""The hall commands in English and Chinese: status, day and the online view of a booking."""

from __future__ import annotations

import asyncio
from datetime import time

import msgspec
import pytest
from click.testing import CliRunner, Result

from bus.cli import build_root
from bus.connect import open_bus
from bus.i18n import set_language
from bus.settings import Settings
from bus.streams import ensure_streams
from projections.checkpoint_store import StoreNotFoundError
from projections.hall.api import HallNotFoundError
from tests.projections.hall_helpers import HALL, at_day, hall_event, publish_hall
from tests.projections.helpers import at, run_zwbus


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
    """A morning of hall GA-ZWFW-01: two bookings, a served ticket, a waiting one, a skipped one."""
    booked = at("2026-10-11", "20:00")
    events = [
        hall_event("booking_created", "B1", booked),
        hall_event("booking_created", "B2", booked),
        hall_event("booking_created", "B3", booked, slot_start=time(10), slot_end=time(10, 30)),
        hall_event("booking_checked_in", "B1", at_day("09:00")),
        hall_event("ticket_issued", "T001", at_day("09:00"), booking_id="B1", channel="booking"),
        hall_event("ticket_called", "T001", at_day("09:05"), window="3"),
        hall_event("service_started", "T001", at_day("09:06"), window="3", staff="S-017"),
        hall_event("service_ended", "T001", at_day("09:20"), window="3", case_code="CASE-1"),
        hall_event("ticket_issued", "T002", at_day("09:02")),
        hall_event("ticket_issued", "T003", at_day("09:03")),
        hall_event("ticket_called", "T003", at_day("09:21"), window="3"),
        hall_event("ticket_skipped", "T003", at_day("09:24"), window="3"),
        hall_event("booking_created", "B1", booked, hall="GA-ZWFW-02"),
    ]

    async def prepare() -> None:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await publish_hall(client, events)

    asyncio.run(prepare())
    result = zwbus(settings, "projections", "run", "hall", "--until-caught-up")
    assert result.exception is None, result.output
    assert f"applied {len(events)}, skipped 0" in result.stdout
    return settings


def test_status_shows_queues_and_windows(projected: Settings) -> None:
    result = zwbus(projected, "hall", "status", HALL, "--as-of", "2026-10-12 09:45")

    assert result.exception is None, result.output
    output = result.stdout
    assert "Hall GA-ZWFW-01, 2026-10-12: 1 waiting, 0 being served, 1 served." in output
    assert "average 6.0 min, 90th percentile 6.0 min" in output
    queues = output[output.index("Queues") : output.index("Windows")]
    assert "A002" in queues
    windows = output[output.index("Windows") : output.index("Skipped tickets")]
    assert "S-017" in windows
    skipped = output[output.index("Skipped tickets") :]
    assert "A003" in skipped
    assert "2026-10-12 09:24:00" in skipped


def test_status_json(projected: Settings) -> None:
    result = zwbus(
        projected, "hall", "status", HALL, "--date", "2026-10-12", "--as-of", "2026-10-12 09:45",
        "--json",
    )

    document = msgspec.json.decode(result.stdout)
    assert document["day"] == "2026-10-12"
    assert document["day_over"] is False
    assert document["waiting"] == 1
    assert document["left_open"] == 0
    assert document["queues"] == [
        {"queue": "A", "waiting": 1, "called": 0, "next_ticket_no": "A002"}
    ]
    assert document["windows"] == [
        {"window": "3", "calling": [], "serving": [], "staff": "S-017", "served": 1}
    ]
    assert [ticket["ticket_id"] for ticket in document["skipped"]] == ["T003"]


def test_status_of_past_day_shows_tickets_left_open(projected: Settings) -> None:
    """Months later, the ticket that never ended is left open, not waiting."""
    result = zwbus(projected, "hall", "status", HALL, "--as-of", "2026-10-13 08:00")
    document = zwbus(
        projected, "hall", "status", HALL, "--as-of", "2026-10-13 08:00", "--json"
    )

    assert result.exception is None, result.output
    output = result.stdout
    heading = "Hall GA-ZWFW-01, 2026-10-12 (the day is over): 1 served, 1 ticket(s) left open"
    assert heading in output
    assert "waiting," not in output
    assert "They are not waiting now." in output
    assert "Queues when the day ended" in output
    assert "Left open, not served" in output
    figures = msgspec.json.decode(document.stdout)
    assert figures["day_over"] is True
    assert figures["left_open"] == 1


def test_status_of_day_without_tickets(projected: Settings) -> None:
    result = zwbus(projected, "hall", "status", HALL, "--date", "2026-10-13")

    assert result.exception is None, result.output
    assert "No ticket of hall GA-ZWFW-01 on 2026-10-13." in result.stdout


def test_day_counts_no_shows(projected: Settings) -> None:
    result = zwbus(projected, "hall", "day", HALL, "2026-10-12", "--as-of", "2026-10-12 09:45")
    document = zwbus(
        projected, "hall", "day", HALL, "2026-10-12", "--as-of", "2026-10-12 09:45", "--json"
    )

    assert result.exception is None, result.output
    output = result.stdout
    assert "slots past as of 2026-10-12 09:45:00" in output
    assert "09:00-09:30" in output
    assert "50.0%" in output
    figures = msgspec.json.decode(document.stdout)
    first, second = figures["slots"]
    assert (first["booked"], first["checked_in"], first["no_shows"]) == (2, 1, 1)
    assert first["no_show_rate"] == 0.5
    assert (second["past"], second["pending"], second["no_show_rate"]) == (False, 1, None)
    assert figures["tickets"] == 3
    assert figures["by_state"]["skipped"] == 1
    assert figures["waits"] == {"count": 1, "average_s": 360.0, "p90_s": 360.0}


def test_day_of_past_day_labels_tickets_left_open(projected: Settings) -> None:
    result = zwbus(projected, "hall", "day", HALL, "2026-10-12", "--as-of", "2026-12-04 10:00")
    document = zwbus(
        projected, "hall", "day", HALL, "2026-10-12", "--as-of", "2026-12-04 10:00", "--json"
    )

    assert result.exception is None, result.output
    table = result.stdout[result.stdout.index("Tickets per queue") :]
    assert "Left open (never ended)" in table
    assert "Waiting" not in table
    assert "They are not waiting now." in result.stdout
    figures = msgspec.json.decode(document.stdout)
    assert figures["day_over"] is True
    assert figures["left_open"] == 1
    assert [queue["left_open"] for queue in figures["queues"]] == [1]


def test_day_points_to_booking_ids(projected: Settings) -> None:
    day = zwbus(projected, "hall", "day", HALL, "2026-10-12", "--as-of", "2026-10-12 09:45")
    listed = zwbus(projected, "hall", "bookings", HALL, "2026-10-12")
    document = zwbus(projected, "hall", "bookings", HALL, "2026-10-12", "--json")
    other_day = zwbus(projected, "hall", "bookings", HALL, "2026-10-13")

    assert f"Booking ids: zwbus hall bookings {HALL} 2026-10-12" in day.stdout
    assert listed.exception is None, listed.output
    assert "B2" in listed.stdout
    assert "Checked in" in listed.stdout
    bookings = msgspec.json.decode(document.stdout)
    assert [booking["booking_id"] for booking in bookings] == ["B1", "B2", "B3"]
    assert bookings[0]["ticket_id"] == "T001"
    assert f"No booking of hall {HALL} on 2026-10-13." in other_day.stdout


@pytest.mark.parametrize("command", ["status", "day", "bookings"])
def test_unknown_hall_fails(projected: Settings, command: str) -> None:
    arguments = ["hall", command, "9999999999"]
    if command != "status":
        arguments.append("2026-10-12")

    result = zwbus(projected, *arguments)
    exited = run_zwbus(projected, *arguments)

    assert isinstance(result.exception, HallNotFoundError)
    message = str(result.exception)
    assert "Hall 9999999999 is unknown: no booking or ticket of it" in message
    assert "Known halls: GA-ZWFW-01, GA-ZWFW-02." in message
    assert exited.returncode == 1
    assert "Hall 9999999999 is unknown" in exited.stderr


def test_booking_shows_online_view(projected: Settings) -> None:
    result = zwbus(projected, "hall", "booking", "B2", "--hall", HALL)
    done = zwbus(projected, "hall", "booking", "B1", "--hall", HALL, "--json")

    assert result.return_value == 0, result.output
    assert "Booked; not checked in yet." in result.stdout
    assert "2026-10-12 09:00-09:30" in result.stdout
    view = msgspec.json.decode(done.stdout)
    assert view["progress"] == "done"
    assert view["window"] == "3"
    assert view["ticket"]["ticket_no"] == "A001"
    assert view["ticket"]["case_code"] == "CASE-1"
    assert view["booking"]["person_pseudonym"] is not None


def test_booking_in_two_halls_asks_for_hall(projected: Settings) -> None:
    result = zwbus(projected, "hall", "booking", "B1")

    assert result.return_value == 1
    assert "Booking id B1 exists in 2 halls; choose one with --hall:" in result.stderr
    assert "GA-ZWFW-02" in result.stderr


def test_unknown_booking_fails(projected: Settings) -> None:
    result = zwbus(projected, "hall", "booking", "NOPE")

    assert result.return_value == 1
    assert "No booking has the id NOPE." in result.stderr
    assert "zwbus projections status" in result.stderr


def test_hall_commands_in_chinese(projected: Settings) -> None:
    set_language("zh_CN")

    status = zwbus(projected, "hall", "status", HALL, "--as-of", "2026-10-12 09:45")
    past = zwbus(projected, "hall", "status", HALL, "--as-of", "2026-10-13 08:00")
    booking = zwbus(projected, "hall", "booking", "B1", "--hall", HALL)
    day = zwbus(projected, "hall", "day", HALL, "2026-10-12", "--as-of", "2026-10-12 12:00")

    assert status.exception is None, status.output
    assert "大厅 GA-ZWFW-01，2026-10-12：等候 1 人" in status.stdout
    assert "（该日已结束）：已办完 1 人，遗留未结 1 个号" in past.stdout
    assert "过号" in status.stdout
    assert "窗口" in status.stdout
    assert "已在窗口 3 办理完毕" in booking.stdout
    assert "爽约率" in day.stdout


def test_commands_before_first_run_explain(settings: Settings) -> None:
    result = zwbus(settings, "hall", "status", HALL)

    assert isinstance(result.exception, StoreNotFoundError)
    assert "zwbus projections run hall" in str(result.exception)

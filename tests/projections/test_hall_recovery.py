"""The hall store after a rebuild from the first event, and after a crash and restart."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.connect import open_bus
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.envelope import Envelope
from projections.checkpoint_store import store_path
from projections.hall import HallProjection
from projections.hall.api import run_hall_projection
from projections.pseudonym import Pseudonymizer, load_key
from projections.rebuild import ProjectionRebuild
from tests.projections.hall_helpers import (
    HALL,
    apply_directly,
    at_day,
    hall_event,
    model_tables,
    publish_hall,
    resend_ids,
)
from tests.projections.helpers import at, command_env, publish_raw, run_zwbus

Bus = tuple[Client, JetStreamContext]
KILLED_EXIT = 137
MODEL_TABLES = ("bookings", "tickets")


def booked_visit(number: int) -> list[Envelope]:
    """A booking checked in, its ticket called, served and ended: six events."""
    booking, ticket = f"B{number:04d}", f"T{number:04d}"
    start = at_day("08:30") + timedelta(minutes=number)
    return [
        hall_event("booking_created", booking, at("2026-10-11", "20:00")),
        hall_event("booking_checked_in", booking, start),
        hall_event("ticket_issued", ticket, start, booking_id=booking, channel="booking"),
        hall_event("ticket_called", ticket, start + timedelta(minutes=9), window="2"),
        hall_event("service_started", ticket, start + timedelta(minutes=10), window="2"),
        hall_event("service_ended", ticket, start + timedelta(minutes=25), window="2"),
    ]


def walk_in(number: int) -> list[Envelope]:
    """A walk-in ticket called twice and skipped, or still waiting: two to four events."""
    ticket = f"W{number:04d}"
    start = at_day("09:00") + timedelta(minutes=number)
    events = [hall_event("ticket_issued", ticket, start, queue="B")]
    if number % 2:
        events += [
            hall_event("ticket_called", ticket, start + timedelta(minutes=3), window="5"),
            hall_event("ticket_recalled", ticket, start + timedelta(minutes=4), window="5"),
            hall_event("ticket_skipped", ticket, start + timedelta(minutes=6), window="5"),
        ]
    return events


async def test_rebuild_equals_live_store(bus: Bus, settings: Settings) -> None:
    client, js = bus
    batches = [
        [event for number in range(5) for event in booked_visit(number)],
        [event for number in range(6) for event in walk_in(number)],
        [event for number in range(5, 8) for event in booked_visit(number)][::-1],
    ]
    for events in batches:
        await publish_hall(client, events)
        await run_hall_projection(settings, until_caught_up=True)
    await publish_raw(js, f"zw.hall.51.16.02.{HALL}.BAD", b"not an event", "raw-1")
    await publish_hall(client, batches[0][:4], msg_ids=resend_ids(batches[0][:4]))
    await run_hall_projection(settings, until_caught_up=True)
    live = store_path(settings.data_dir, "hall")
    incremental = model_tables(live)

    projection = HallProjection.for_data_dir(settings.data_dir)
    result = await ProjectionRebuild(projection, settings, batch_size=7).run()

    assert result.swapped
    assert result.applied == sum(len(events) for events in batches)
    assert result.duplicates == 4
    assert result.set_aside == 1
    assert model_tables(live) == incremental
    assert len(incremental["tickets"]) == 14
    assert len(incremental["bookings"]) == 8


def visits() -> list[Envelope]:
    """About 2,300 events, enough for three batches of the runner's 1,000."""
    events = [event for number in range(240) for event in booked_visit(number)]
    events += [event for number in range(350) for event in walk_in(number)]
    return events


@pytest.mark.parametrize("point", ["after_write", "after_commit"])
def test_crash_then_restart_equals_clean_run(settings: Settings, point: str) -> None:
    events = visits()
    arrivals = list(events)
    random.Random(20261012).shuffle(arrivals)

    async def publish() -> None:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await publish_hall(client, arrivals)

    asyncio.run(publish())
    crashed = run_zwbus(
        settings,
        "projections",
        "run",
        "hall",
        "--until-caught-up",
        env=command_env(ZWBUS_FAULT=f"{point}:2"),
    )
    restarted = run_zwbus(settings, "projections", "run", "hall", "--until-caught-up")
    clean = settings.data_dir / "clean" / "hall.sqlite"
    projection = HallProjection(Pseudonymizer(load_key(settings.data_dir)))
    asyncio.run(apply_directly(clean, projection, events))

    assert crashed.returncode == KILLED_EXIT, crashed.stderr
    assert "fault_injected" in crashed.stderr
    assert restarted.returncode == 0, restarted.stderr
    assert f"stored sequence {len(events)}." in restarted.stdout
    live = model_tables(store_path(settings.data_dir, "hall"), names=MODEL_TABLES)
    assert live == model_tables(clean, names=MODEL_TABLES)
    assert len(live["tickets"]) == 590

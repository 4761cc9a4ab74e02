"""Any arrival order, re-send, batch size, restart and crash gives the hall state of a clean run.

Each example generates bookings and tickets with their event sequences,
publishes them to a real nats-server in a generated order with re-sends,
runs the projection between publishing rounds with small batches, and
crashes it once at a generated point. The store must then equal the store
built by applying the events once, in business order, without a bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import nats.js.errors
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bus import server
from bus.connect import open_bus
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.envelope import Envelope
from projections.checkpoint_store import ProjectionStore, store_path
from projections.faults import FaultPlan, FaultPoint, NoFault
from projections.hall import HALL_STREAM, HallProjection, queries
from projections.pseudonym import Pseudonymizer
from projections.runtime import ProjectionRunner
from tests.projections.hall_helpers import (
    DAY,
    HALL,
    apply_directly,
    as_of,
    at_day,
    hall_event,
    model_tables,
    publish_hall,
    resend_ids,
)
from tests.projections.helpers import at

PROJECTION = HallProjection(Pseudonymizer(b"hall-property-test-key-of-32-byt"))
MODEL_TABLES = ("bookings", "tickets")
THE_DAY = date.fromisoformat(DAY)
SLOTS = ((time(9, 0), time(9, 30)), (time(9, 30), time(10, 0)))
LIFECYCLES: dict[str, tuple[str, ...]] = {
    "issued": ("ticket_issued",),
    "called": ("ticket_issued", "ticket_called"),
    "recalled": ("ticket_issued", "ticket_called", "ticket_recalled"),
    "skipped": ("ticket_issued", "ticket_called", "ticket_skipped"),
    "serving": ("ticket_issued", "ticket_called", "service_started"),
    "done": ("ticket_issued", "ticket_called", "service_started", "service_ended"),
    "skipped_then_done": (
        "ticket_issued", "ticket_called", "ticket_skipped", "service_started", "service_ended"
    ),
}


class SimulatedCrash(Exception):
    """Raised by ``RaisingFault`` where ``ZWBUS_FAULT`` would end the process."""


class RaisingFault(FaultPlan):
    """A crash point that raises instead of ending the process, so one test can crash often.

    At ``after_write`` the exception rolls the batch's transaction back; at
    ``after_commit`` the batch is committed but not acknowledged.
    """

    def reached(self, point: FaultPoint, batch: int) -> None:
        if point == self.point and batch == self.batch:
            raise SimulatedCrash(f"{point}:{batch}")


@st.composite
def ticket_events(
    draw: st.DrawFn, ticket_id: str, start: datetime, booking_id: str | None = None
) -> list[Envelope]:
    kinds = LIFECYCLES[draw(st.sampled_from(sorted(LIFECYCLES)))]
    gaps = draw(st.lists(st.integers(0, 15), min_size=len(kinds), max_size=len(kinds)))
    window = draw(st.sampled_from(["1", "2", "3"]))
    issued: dict[str, Any] = {
        "queue": draw(st.sampled_from(["A", "B"])),
        "priority": draw(st.booleans()),
        "ticket_no": f"N{ticket_id}",
    }
    if booking_id is not None:
        issued |= {"booking_id": booking_id, "channel": "booking"}

    events = []
    moment = start
    for kind, gap in zip(kinds, gaps, strict=True):
        moment += timedelta(minutes=gap)
        fields = issued if kind == "ticket_issued" else {"window": window}
        events.append(hall_event(kind, ticket_id, moment, **fields))
    return events


@st.composite
def hall_histories(draw: st.DrawFn) -> list[Envelope]:
    """Generate a day of one hall: bookings with their fates and tickets with their lifecycles."""
    events: list[Envelope] = []
    for number in range(draw(st.integers(0, 3))):
        booking_id = f"B{number}"
        start, end = draw(st.sampled_from(SLOTS))
        events.append(
            hall_event(
                "booking_created",
                booking_id,
                at("2026-10-11", "20:00"),
                slot_start=start,
                slot_end=end,
            )
        )
        fate = draw(st.sampled_from(["open", "cancelled", "checked_in"]))
        arrived = at_day("08:50") + timedelta(minutes=draw(st.integers(0, 60)))
        if fate == "cancelled":
            events.append(hall_event("booking_cancelled", booking_id, at_day("07:00")))
        elif fate == "checked_in":
            events.append(hall_event("booking_checked_in", booking_id, arrived))
            events += draw(ticket_events(f"T{number}", arrived, booking_id))
    for number in range(draw(st.integers(1, 3))):
        arrived = at_day("08:30") + timedelta(minutes=draw(st.integers(0, 90)))
        events += draw(ticket_events(f"W{number}", arrived))
    return events


@dataclass(frozen=True)
class Arrival:
    """How the events reach the bus and the projection: rounds, batch size, planned crash."""

    rounds: list[list[Envelope]]
    """Events published before each run, in arrival order, re-sends included."""
    batch_size: int
    crash: tuple[FaultPoint, int] | None


@st.composite
def arrivals(draw: st.DrawFn, events: list[Envelope]) -> Arrival:
    """Generate an arrival order with re-sends, cut into publishing rounds, and a crash."""
    order = draw(st.permutations(events))
    resent = draw(st.lists(st.sampled_from(events), max_size=3))
    sequence = [*order, *resent]
    cuts = draw(st.lists(st.integers(1, max(len(sequence) - 1, 1)), max_size=2))
    bounds = sorted({0, len(sequence), *cuts})
    points: list[FaultPoint] = ["after_write", "after_commit"]
    return Arrival(
        rounds=[sequence[low:high] for low, high in itertools.pairwise(bounds)],
        batch_size=draw(st.integers(1, 4)),
        crash=draw(st.none() | st.tuples(st.sampled_from(points), st.integers(1, 3))),
    )


async def _reset_stream(settings_: Settings) -> None:
    async with open_bus(settings_) as (_client, js):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(HALL_STREAM)
        await ensure_streams(js)


async def _run_once(settings_: Settings, batch_size: int, faults: FaultPlan) -> bool:
    """Run the projection until caught up; return whether the planned crash happened."""
    runner = ProjectionRunner(PROJECTION, settings_, batch_size=batch_size, faults=faults)
    try:
        await runner.run(until_caught_up=True)
    except SimulatedCrash:
        return True
    return False


async def _project_through_bus(settings_: Settings, arrival: Arrival) -> bool:
    """Publish round by round and run the projection after each; return whether it crashed."""
    await _reset_stream(settings_)
    crash = arrival.crash
    crashed = False
    sent: set[str] = set()
    async with open_bus(settings_) as (client, _js):
        for events in arrival.rounds:
            # A second copy of an event passes the stream's dedup window, as a
            # re-send older than the window would.
            msg_ids = [
                resend_ids([event], "resent")[0] if event.id in sent else event.id
                for event in events
            ]
            sent.update(event.id for event in events)
            await publish_hall(client, events, msg_ids=msg_ids)

            faults: FaultPlan = NoFault()
            if crash is not None and not crashed:
                faults = RaisingFault(*crash)
            if await _run_once(settings_, arrival.batch_size, faults):
                crashed = True
                await _run_once(settings_, arrival.batch_size, NoFault())
    return crashed


async def _views(path: Path) -> tuple[object, ...]:
    async with ProjectionStore.open(path, projection="hall", create=False) as store:
        connection = store.connection
        status = await queries.hall_status(connection, HALL, THE_DAY, as_of=as_of("09:45"))
        day = await queries.hall_day(connection, HALL, THE_DAY, as_of("09:45"))
        bookings = [
            await queries.find_bookings(connection, f"B{number}") for number in range(3)
        ]
        async with connection.execute("SELECT COUNT(*) AS n FROM hall_events") as cursor:
            row = await cursor.fetchone()
    assert row is not None
    return status, day, bookings, row["n"]


def _business_order(event: Envelope) -> tuple[datetime, str]:
    return event.occurred_at, event.id


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), events=hall_histories())
def test_any_arrival_gives_clean_state(
    nats_server: server.ServerInfo, data: st.DataObject, events: list[Envelope]
) -> None:
    arrival = data.draw(arrivals(events))

    with tempfile.TemporaryDirectory() as folder:
        settings_ = Settings(nats_url=nats_server.url, data_dir=Path(folder), lang="en")
        crashed = asyncio.run(_project_through_bus(settings_, arrival))
        event(f"crashed at {arrival.crash[0]}" if crashed and arrival.crash else "no crash")
        clean = Path(folder) / "clean" / "hall.sqlite"
        asyncio.run(apply_directly(clean, PROJECTION, sorted(events, key=_business_order)))
        live = store_path(settings_.data_dir, "hall")

        live_tables = model_tables(live, names=MODEL_TABLES)
        clean_tables = model_tables(clean, names=MODEL_TABLES)
        live_views = asyncio.run(_views(live))
        clean_views = asyncio.run(_views(clean))

    assert live_tables == clean_tables
    assert live_views == clean_views
    assert live_views[-1] == len(events)

"""Plant the defects of the hall queue export, and count the hall flows the ingest should see.

Each booking or ticket anchors at most one defect, and rows that other rows
depend on (a booking's creation, a ticket's issue) are never quarantined, so
every planted row has exactly the outcome ``DEFECT_OUTCOMES`` gives it.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from bench.demo._defects import full_width
from bench.demo._family_defects import INVALID_REGION, move_before, pick, resend, scaled
from bench.demo._family_rows import HARMLESS_DEFECTS, FamilyLayout, FamilyRow

_SERIAL_DATE_SHARE = 0.03


def _entity(row: FamilyRow) -> str:
    return str(row.values.get("ticket_id") or row.values.get("booking_id"))


class HallDefects:
    """Plant defects into the hall rows of each business day; the lists grow with new rows."""

    def __init__(
        self,
        rng: random.Random,
        layout: FamilyLayout,
        days: dict[date, list[FamilyRow]],
        known_numbers: set[str],
    ) -> None:
        self._rng = rng
        self._layout = layout
        self._days = days
        self._known_numbers = known_numbers
        self._used: set[str] = set()
        """Bookings and tickets that already anchor a planted defect."""

    def _rows(self, event: str, *, clean_entity: bool = True) -> list[tuple[date, FamilyRow]]:
        return [
            (day, row)
            for day, rows in self._days.items()
            for row in rows
            if row.event == event
            and row.defect is None
            and not (clean_entity and _entity(row) in self._used)
        ]

    def _claim(
        self, count: int, candidates: list[tuple[date, FamilyRow]]
    ) -> list[tuple[date, FamilyRow]]:
        chosen = pick(self._rng, candidates, count)
        self._used.update(_entity(row) for _, row in chosen)
        return chosen

    def _add(self, day: date, row: FamilyRow) -> None:
        self._days[day].append(row)

    # Before the rows are sorted into files ----------------------------------

    def plant_rows(self) -> None:
        """Plant every defect that changes or adds rows."""
        tickets = len(self._rows("ticket_issued"))
        bookings = len(self._rows("booking_created"))
        self._checked_in_twice(scaled(bookings, 0.02))
        self._checked_in_after_cancel(scaled(bookings, 0.01))
        self._backwards_calls(scaled(tickets, 0.01))
        self._missing_cases(scaled(tickets, 0.005))
        self._transfers(scaled(tickets, 0.01))
        self._manual_tickets(scaled(tickets, 0.005))
        self._invalid_regions(scaled(tickets, 0.005))
        self._full_width(scaled(tickets, 0.01))
        self._serial_dates()

    def _checked_in_twice(self, count: int) -> None:
        for day, first in self._claim(count, self._rows("booking_checked_in")):
            again = first.time + timedelta(seconds=self._rng.randint(30, 90))
            second = replace(
                first, time=again, values=dict(first.values), defect="checked_in_twice"
            )
            self._add(day, second)

    def _checked_in_after_cancel(self, count: int) -> None:
        created = {
            str(row.values["booking_id"]): row
            for rows in self._days.values()
            for row in rows
            if row.event == "booking_created"
        }
        for day, cancelled in self._claim(count, self._rows("booking_cancelled")):
            booking = created[str(cancelled.values["booking_id"])]
            slot_date, slot_start = booking.values["slot_date"], booking.values["slot_start"]
            if not isinstance(slot_date, date) or not isinstance(slot_start, time):
                continue
            # The holder came anyway, and the kiosk still took the booking.
            arrival = datetime.combine(slot_date, slot_start) - timedelta(minutes=5)
            arrival = max(arrival, cancelled.time) + timedelta(seconds=self._rng.randint(60, 600))
            values = {name: value for name, value in cancelled.values.items() if name != "remark"}
            row = FamilyRow(
                event="booking_checked_in",
                time=arrival,
                values=values,
                defect="checked_in_after_cancel",
            )
            self._add(day, row)

    def _served(self) -> dict[str, dict[str, FamilyRow]]:
        """Return the rows of each served ticket by event, for tickets without a defect."""
        tickets: dict[str, dict[str, FamilyRow]] = {}
        for rows in self._days.values():
            for row in rows:
                if "ticket_id" in row.values and row.defect is None:
                    tickets.setdefault(str(row.values["ticket_id"]), {})[row.event] = row
        return {key: events for key, events in tickets.items() if "service_ended" in events}

    def _backwards_calls(self, count: int) -> None:
        """Call a ticket again after its service started, as a window's double click does."""
        served = self._served()
        candidates = self._rows("service_started")
        for day, started in self._claim(
            count, [pair for pair in candidates if _entity(pair[1]) in served]
        ):
            ended = served[_entity(started)]["service_ended"]
            at = started.time + (ended.time - started.time) // 2
            call = served[_entity(started)]["ticket_called"]
            row = replace(
                call,
                time=at.replace(microsecond=0),
                values=dict(call.values),
                defect="ticket_backwards",
            )
            self._add(day, row)

    def _missing_cases(self, count: int) -> None:
        """Name a case number the window system never exported in a consultation's end."""
        consultations = [
            pair for pair in self._rows("service_ended") if pair[1].values.get("local_no") is None
        ]
        for day, ended in self._claim(count, consultations):
            ended.values["local_no"] = self._made_up_number(day)
            ended.values.pop("remark", None)
            ended.defect = "missing_case"

    def _made_up_number(self, day: date) -> str:
        while True:
            number = f"CK511602-{day:%Y%m%d}-9{self._rng.randrange(10**4):04d}"
            if number not in self._known_numbers:
                return number

    def _transfers(self, count: int) -> None:
        """Log a transfer to another window (转窗) between a call and the service start."""
        served = self._served()
        candidates = [pair for pair in self._rows("ticket_called") if _entity(pair[1]) in served]
        for day, call in self._claim(count, candidates):
            started = served[_entity(call)]["service_started"]
            at = call.time + (started.time - call.time) // 3
            row = FamilyRow(
                event="transferred",
                time=at.replace(microsecond=0),
                values={**call.values, "remark": "转窗办理"},
                codes={"event": self._layout.unmapped["event"]},
                defect="unmapped_event",
            )
            self._add(day, row)

    def _manual_tickets(self, count: int) -> None:
        """Add tickets a clerk issued by hand, through a channel the profile does not map."""
        issued = self._rows("ticket_issued", clean_entity=False)
        for number, (day, model) in enumerate(pick(self._rng, issued, count), start=1):
            values = {
                **model.values,
                "ticket_id": f"{self._rng.getrandbits(64):016x}",
                "ticket_no": f"{str(model.values['ticket_no'])[0]}9{number:02d}",
                "booking_id": None,
                "priority": False,
            }
            row = FamilyRow(
                event="ticket_issued",
                time=model.time + timedelta(seconds=self._rng.randint(30, 300)),
                values=values,
                codes={"channel": self._layout.unmapped["channel"]},
                defect="unmapped_channel",
            )
            self._add(day, row)

    def _invalid_regions(self, count: int) -> None:
        """Break the region of rows nothing depends on: cancellations and consultation ends."""
        candidates = self._rows("booking_cancelled") + [
            pair for pair in self._rows("service_ended") if pair[1].values.get("local_no") is None
        ]
        for _day, row in self._claim(count, candidates):
            row.values["region"] = INVALID_REGION
            row.defect = "invalid_region"

    def _full_width(self, count: int) -> None:
        with_case = [pair for pair in self._rows("service_ended") if pair[1].values.get("local_no")]
        for _day, row in self._claim(count, with_case):
            row.values["local_no"] = full_width(str(row.values["local_no"]))
            row.defect = "full_width_digits"

    def _serial_dates(self) -> None:
        for rows in self._days.values():
            for row in rows:
                if row.defect is None and self._rng.random() < _SERIAL_DATE_SHARE:
                    row.serial_time = True
                    row.defect = "excel_serial_date"

    # After the rows are sorted into files -----------------------------------

    def plant_placement(self, files: list[list[FamilyRow]]) -> None:
        """Move some calls before their ticket's issue, then re-send some rows."""
        issued = {
            _entity(row): row
            for rows in files
            for row in rows
            if row.event == "ticket_issued" and row.defect is None
        }
        calls = [
            row
            for rows in files
            for row in rows
            if row.event == "ticket_called"
            and row.defect is None
            and _entity(row) in issued
            and _entity(row) not in self._used
        ]
        for call in pick(self._rng, calls, scaled(len(calls), 0.01)):
            move_before(files, call, issued[_entity(call)])
            call.defect = "out_of_order"
            self._used.add(_entity(call))

        clean = [row for rows in files for row in rows if row.defect is None]
        for row in pick(self._rng, clean, scaled(len(clean), 0.015)):
            resend(self._rng, files, row)


HALL_FLOW_COUNTS = (
    "booking_created",
    "booking_cancelled",
    "booking_checked_in",
    "ticket_issued",
    "issued_booking",
    "issued_kiosk",
    "issued_mobile",
    "priority_tickets",
    "ticket_called",
    "ticket_recalled",
    "ticket_skipped",
    "service_started",
    "service_ended",
    "served_with_case",
    "consultations",
)
"""Keys of ``hall_flow_counts``, each present even when zero."""


def hall_flow_counts(rows: list[FamilyRow]) -> dict[str, int]:
    """Count the hall events a correct ingest publishes."""
    counts: Counter[str] = Counter(dict.fromkeys(HALL_FLOW_COUNTS, 0))
    for row in rows:
        if row.defect is not None and row.defect not in HARMLESS_DEFECTS:
            continue
        counts[row.event] += 1
        if row.event == "ticket_issued":
            counts[f"issued_{row.values['channel']}"] += 1
            counts["priority_tickets"] += bool(row.values["priority"])
        if row.event == "service_ended":
            counts["served_with_case" if row.values.get("local_no") else "consultations"] += 1
    return {name: counts[name] for name in HALL_FLOW_COUNTS}

"""Case (办件) flows: which statuses a case passes and when, as export rows.

Timing works on working minutes (see ``_calendar``). The promised time limit
(承诺时限) counts the working days after the acceptance day through the
conclusion day. On-time cases conclude within that limit even when the
supplement (补正) and special-procedure (特别程序) days are counted. Overdue
cases exceed it even when those paused days are left out. So both ways of
counting agree on which cases are late.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench.demo._calendar import MINUTES_PER_DAY, WorkingCalendar
from bench.demo._catalogue import DemoItem
from bench.demo._people import Applicant
from bench.demo._remarks import pick_remark
from bench.demo._sources import SourceFormat

UNMAPPED_STATUS = "unmapped"
"""Marker event of an extra row whose status value the source profile does not map."""

_WITHDRAWN_SHARE = 0.02
_NOT_ACCEPTED_SHARE = 0.05
_SUPPLEMENT_SHARE = 0.10
_SUSPENSION_SHARE = 0.03
_OVERDUE_SHARE = 0.08
_STEP_COUNTS = (1, 2, 3)
_STEP_WEIGHTS = (45, 35, 20)
_RESULT_WEIGHTS = {
    "approved": 88,
    "denied": 5,
    "returned": 3,
    "forwarded": 2,
    "voided": 1,
    "deleted": 1,
}
_DELIVERY_SHARE = {"approved": 0.95, "denied": 0.7}
_MIN_GAP = 20
"""Working minutes reserved per event between acceptance and conclusion."""

CLOSING_EVENTS = frozenset({"withdrawn", "not_accepted", "concluded", "result_delivered"})


@dataclass(slots=True, eq=False)
class StatusRow:
    """One exported status row in canonical terms; writers translate it per source.

    Rows compare by identity, because copies of a row must stay distinguishable
    while defects move them between files.
    """

    case_index: int
    local_no: str
    item_code: str
    item_name: str
    applicant_name: str
    id_type: str
    applicant_id: str
    phone: str
    department_code: str
    department_name: str
    region: str
    status: str
    """Canonical event name, or ``UNMAPPED_STATUS``."""
    moment: int
    """Working minute of the status, which orders rows and picks the monthly file."""
    status_time: datetime
    promised_days: int
    result: str | None
    remark: str
    version: int = 1
    sentinel_time: bool = False
    """Write 1753-01-01 in place of the status time."""
    serial_time: bool = False
    """Write an Excel serial number in place of a date cell (XLSX only)."""


@dataclass(slots=True)
class CaseRecord:
    """A case of one source with its rows in flow order."""

    index: int
    source: SourceFormat
    applicant: Applicant
    item: DemoItem
    promised_days: int
    rows: list[StatusRow] = field(default_factory=list)


@dataclass(slots=True)
class FlowStats:
    """Counts of late and open cases at the export cutoff."""

    overdue_concluded: int = 0
    """Cases concluded after their promised limit."""
    open_cases: int = 0
    """Cases without a conclusion, rejection or withdrawal by the cutoff."""
    open_past_limit: int = 0
    """Open accepted cases whose promised limit had passed at the cutoff."""


def _acceptance_delay(rng: random.Random) -> int:
    if rng.random() < 0.6:
        return rng.randint(5, 90)
    return rng.randint(MINUTES_PER_DAY // 2, 2 * MINUTES_PER_DAY)


def _middle_events(rng: random.Random) -> list[str]:
    """Pick the events between acceptance and conclusion, in flow order."""
    events: list[str] = []
    if rng.random() < _SUPPLEMENT_SHARE:
        events += ["supplement_requested", "supplemented"]

    steps = rng.choices(_STEP_COUNTS, weights=_STEP_WEIGHTS)[0]
    events += ["step_completed"] * (steps - 1)
    if rng.random() < _SUSPENSION_SHARE:
        events += ["suspended", "resumed"]
    events.append("step_completed")
    return events


def _paused_days(events: list[tuple[str, int]]) -> int:
    """Count working days between the start and end of each supplement or special procedure."""
    starts: dict[str, int] = {}
    paused = 0
    for name, moment in events:
        if name in ("supplement_requested", "suspended"):
            starts[name] = moment // MINUTES_PER_DAY
        elif name == "supplemented":
            paused += moment // MINUTES_PER_DAY - starts["supplement_requested"]
        elif name == "resumed":
            paused += moment // MINUTES_PER_DAY - starts["suspended"]
    return paused


def plan_events(rng: random.Random, submitted: int, promised: int) -> list[tuple[str, int]]:
    """Plan a whole flow as (event, working minute) pairs with strictly increasing minutes.

    The flow is not cut at the export date; the caller drops later events.
    """
    events = [("submitted", submitted)]

    roll = rng.random()
    if roll < _WITHDRAWN_SHARE:
        events.append(("withdrawn", submitted + rng.randint(30, 3 * MINUTES_PER_DAY)))
        return events
    if roll < _WITHDRAWN_SHARE + _NOT_ACCEPTED_SHARE:
        events.append(("not_accepted", submitted + _acceptance_delay(rng)))
        return events

    accepted = submitted + _acceptance_delay(rng)
    accepted_day = accepted // MINUTES_PER_DAY
    events.append(("accepted", accepted))
    middle = _middle_events(rng)

    if rng.random() < _OVERDUE_SHARE:
        window_end = (accepted_day + promised + 1) * MINUTES_PER_DAY - 1
        moments = sorted(rng.sample(range(accepted + 1, window_end), len(middle)))
        events += zip(middle, moments, strict=True)

        # Late even when the paused days are not counted, and one more day
        # when there was a pause, in case a reader counts its end day too.
        paused = _paused_days(events)
        late_by = rng.randint(1, 8) + (1 if paused else 0)
        concluded_day = accepted_day + promised + paused + late_by
        concluded = concluded_day * MINUTES_PER_DAY + rng.randrange(MINUTES_PER_DAY)
    else:
        span = rng.randint(0, promised)
        needed = _MIN_GAP * (len(middle) + 1)
        if accepted + needed >= (accepted_day + span + 1) * MINUTES_PER_DAY:
            span = max(span, 1)
        low = max(accepted + needed, (accepted_day + span) * MINUTES_PER_DAY)
        high = (accepted_day + span + 1) * MINUTES_PER_DAY - 1
        concluded = rng.randint(low, high)
        moments = sorted(rng.sample(range(accepted + 1, concluded), len(middle)))
        events += zip(middle, moments, strict=True)

    events.append(("concluded", concluded))
    return events


def pick_result(rng: random.Random) -> str:
    return rng.choices(list(_RESULT_WEIGHTS), weights=list(_RESULT_WEIGHTS.values()))[0]


def add_delivery(
    rng: random.Random, events: list[tuple[str, int]], result: str
) -> list[tuple[str, int]]:
    """Append result delivery (送达) after an approval or denial, as most cases get."""
    if rng.random() >= _DELIVERY_SHARE.get(result, 0.0):
        return events
    concluded = events[-1][1]
    return [*events, ("result_delivered", concluded + rng.randint(30, 3 * MINUTES_PER_DAY))]


def record_stats(
    stats: FlowStats, exported: list[tuple[str, int]], promised: int, cutoff: int
) -> None:
    """Update the cutoff statistics with one case's events that made it into the export."""
    moments = dict(exported)
    if "concluded" in moments:
        elapsed = moments["concluded"] // MINUTES_PER_DAY - moments["accepted"] // MINUTES_PER_DAY
        if elapsed > promised:
            stats.overdue_concluded += 1
        return
    if any(name in CLOSING_EVENTS for name, _ in exported):
        return

    stats.open_cases += 1
    if "accepted" in moments:
        last_day = cutoff // MINUTES_PER_DAY - 1
        if last_day - moments["accepted"] // MINUTES_PER_DAY > promised:
            stats.open_past_limit += 1


def build_rows(
    rng: random.Random,
    calendar: WorkingCalendar,
    case: CaseRecord,
    local_no: str,
    events: list[tuple[str, int]],
    result: str,
) -> list[StatusRow]:
    """Turn planned events into export rows; seconds are random within each minute."""
    rows: list[StatusRow] = []
    for name, moment in events:
        seconds = timedelta(seconds=rng.randrange(60))
        rows.append(
            StatusRow(
                case_index=case.index,
                local_no=local_no,
                item_code=case.item.item_code,
                item_name=case.item.name,
                applicant_name=case.applicant.name,
                id_type=case.applicant.id_type,
                applicant_id=case.applicant.id_number,
                phone=case.applicant.phone,
                department_code=case.item.department_code,
                department_name=case.item.department_name,
                region=case.item.region12[:6],
                status=name,
                moment=moment,
                status_time=calendar.to_datetime(moment) + seconds,
                promised_days=case.promised_days,
                result=result if name == "concluded" else None,
                remark=pick_remark(rng, name),
            )
        )
    return rows

"""Window visits of the hall window system's cases: hall, queue, window, staff and times.

Every case of the hall window system (``hall-window``) was submitted at a
window of the district's government service centre. A visit places that
submission inside a ticket's service: the ticket was issued, called and its
service started minutes before the submission, and the service ended
minutes after it. The hall evaluator rates the visit and the queue system
logs the ticket, so both exports name the same window and staff.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bench.demo._flows import CaseRecord

REGION = "511602"
CENTRE = "5116020001"
"""Hall code (大厅编码) of the 广安区 government service centre (区政务服务中心)."""
STATION = "5116020101"
"""Hall code of a street's service station (街道便民服务中心), which only gives advice."""

_SESSION_STARTS = (time(9, 0), time(14, 0))
_KIOSK_LEAD = timedelta(minutes=15)
"""The ticket kiosk opens this long before each session."""


@dataclass(frozen=True)
class Queue:
    """A queue (业务队列) of one hall with the windows that serve it."""

    letter: str
    """First character of the ticket numbers shown (``A015``)."""
    name: str
    hall: str
    windows: tuple[str, ...]
    departments: tuple[str, ...]
    """Substrings of the department names this queue serves; empty serves the rest."""


QUEUES = (
    Queue(letter="B", name="税务", hall=CENTRE, windows=("07", "08"), departments=("税务",)),
    Queue(
        letter="C",
        name="不动产登记",
        hall=CENTRE,
        windows=("09", "10"),
        departments=("住建", "自然资源"),
    ),
    Queue(
        letter="A",
        name="综合受理",
        hall=CENTRE,
        windows=("01", "02", "03", "04", "05", "06"),
        departments=(),
    ),
)
STATION_QUEUE = Queue(
    letter="S", name="社保医保咨询", hall=STATION, windows=("01", "02"), departments=()
)


def queue_for(department_name: str) -> Queue:
    """Return the centre's queue that serves a department: a specialised one or 综合受理."""
    for queue in QUEUES:
        if any(part in department_name for part in queue.departments):
            return queue
    return QUEUES[-1]


def staff_of(queue: Queue, window: str, day_number: int) -> str:
    """Return the work number (工号) of the clerk at a window; two clerks take turns by day."""
    hall_digit = "1" if queue.hall == CENTRE else "2"
    return f"{hall_digit}{window}{day_number % 2 + 1:02d}"


def session_start(moment: datetime) -> datetime:
    """Return the start of the office session (09:00 or 14:00) that a time belongs to."""
    start = _SESSION_STARTS[0] if moment.time() < time(13, 0) else _SESSION_STARTS[1]
    return datetime.combine(moment.date(), start)


@dataclass(frozen=True, slots=True)
class Visit:
    """The ticket service at a window that produced one case."""

    case: CaseRecord
    local_no: str
    submitted: datetime
    queue: Queue
    window: str
    staff: str
    issued: datetime
    called: datetime
    started: datetime
    ended: datetime


def _seconds(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(seconds=rng.randint(low, high))


def plan_visits(rng: random.Random, cases: list[CaseRecord]) -> list[Visit]:
    """Place each case's submission inside a window service, in submission order.

    A window serves one ticket at a time where it can: each visit takes a
    free window of its queue, or the one that frees first when all are busy.
    """
    submitted = sorted(
        ((case.rows[0].status_time, case) for case in cases), key=lambda pair: pair[0]
    )
    busy_until: dict[tuple[str, str], datetime] = {}
    visits: list[Visit] = []

    for moment, case in submitted:
        queue = queue_for(case.item.department_name)
        opening = session_start(moment)
        started = max(moment - _seconds(rng, 60, 420), opening)
        called = started - _seconds(rng, 20, 120)
        issued = max(called - _seconds(rng, 180, 2100), opening - _KIOSK_LEAD)
        ended = moment + _seconds(rng, 120, 600)

        keys = [(queue.hall, window) for window in queue.windows]
        free = [key for key in keys if busy_until.get(key, datetime.min) <= called]
        key = rng.choice(free) if free else min(keys, key=lambda k: busy_until[k])
        busy_until[key] = max(busy_until.get(key, datetime.min), ended)

        day_number = moment.toordinal()
        visits.append(
            Visit(
                case=case,
                local_no=case.rows[0].local_no,
                submitted=moment,
                queue=queue,
                window=key[1],
                staff=staff_of(queue, key[1], day_number),
                issued=issued,
                called=called,
                started=started,
                ended=ended,
            )
        )
    return visits

"""The ``zwbus hall`` command group: a hall's queue now, its day, its bookings and one booking."""

from __future__ import annotations

from datetime import datetime

import click
import msgspec
from rich.console import Console

from bus.i18n import _
from bus.runner import run
from bus.settings import Settings
from projections.display import label
from projections.hall import api
from projections.hall.display import (
    BOOKING_STATE_LABELS,
    booking_table,
    day_bookings_table,
    day_heading,
    left_open_note,
    queue_table,
    skipped_table,
    slot_table,
    status_heading,
    ticket_table,
    waits_text,
    window_table,
)
from projections.workdays import CHINA_TZ

console = Console(soft_wrap=False)
error_console = Console(stderr=True, soft_wrap=False)

_DATE = click.DateTime(formats=["%Y-%m-%d"])
_MOMENT = click.DateTime(formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"])
_JSON_HELP = _("Write JSON instead of tables.")


def _echo_json(value: object) -> None:
    click.echo(msgspec.json.encode(value).decode())


@click.group(
    help=_(
        "Look up halls (线上线下融合): the queue per window now, a day's bookings and "
        "tickets, and where a booking stands in the queue."
    )
)
def hall() -> None:
    pass


def _china_moment(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=CHINA_TZ)


@hall.command(
    "status",
    help=_(
        "Show a hall's queues and windows: waiting tickets per queue, tickets called and "
        "being served per window, served and skipped tickets, and waits. For a day that is "
        "over it shows the tickets left open, whose service never ended. An unknown hall, "
        "with no booking or ticket in the hall projection, is an error (exit status 1)."
    ),
)
@click.argument("hall_code", metavar="HALL")
@click.option(
    "--date",
    "day",
    type=_DATE,
    default=None,
    metavar="DATE",
    help=_("Business day, YYYY-MM-DD (default: the hall's latest day with a ticket)."),
)
@click.option(
    "--as-of",
    type=_MOMENT,
    default=None,
    metavar="TIME",
    help=_(
        "Time the state is judged at, YYYY-MM-DD HH:MM in China time (default: now). A "
        "business day before this time's day is over."
    ),
)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
@click.pass_obj
def status(
    settings: Settings,
    hall_code: str,
    day: datetime | None,
    as_of: datetime | None,
    as_json: bool,
) -> None:
    hall_state = run(
        api.hall_status(
            settings,
            hall_code,
            day=None if day is None else day.date(),
            as_of=_china_moment(as_of),
        )
    )
    if as_json:
        _echo_json(hall_state)
        return

    console.print(status_heading(hall_state), markup=False)
    if not hall_state.queues and not hall_state.windows and not hall_state.skipped:
        console.print(_("No ticket of hall {hall} on {day}.").format(
            hall=hall_code, day=hall_state.day), markup=False)
        return
    if hall_state.left_open:
        console.print(left_open_note())
    console.print(waits_text(hall_state.waits))
    console.print(queue_table(hall_state))
    console.print(window_table(hall_state))
    if hall_state.skipped:
        console.print(skipped_table(hall_state))


@hall.command(
    "day",
    help=_(
        "Show a hall's business day: bookings per time slot with no-shows and the no-show "
        "rate, tickets per queue, waits (average and 90th percentile) and served tickets."
    ),
)
@click.argument("hall_code", metavar="HALL")
@click.argument("day", metavar="DATE", type=_DATE)
@click.option(
    "--as-of",
    type=_MOMENT,
    default=None,
    metavar="TIME",
    help=_(
        "Time the no-shows are decided at, YYYY-MM-DD HH:MM in China time (default: now). "
        "A slot counts once its end is not after this time."
    ),
)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
@click.pass_obj
def day_command(
    settings: Settings, hall_code: str, day: datetime, as_of: datetime | None, as_json: bool
) -> None:
    figures = run(api.hall_day(settings, hall_code, day.date(), as_of=_china_moment(as_of)))
    if as_json:
        _echo_json(figures)
        return

    console.print(day_heading(figures), markup=False)
    if figures.slots:
        console.print(slot_table(figures))
        console.print(
            _("Booking ids: zwbus hall bookings {hall} {day}").format(
                hall=hall_code, day=figures.day
            ),
            markup=False,
        )
    else:
        console.print(_("No booking for this day."))
    if figures.tickets:
        console.print(ticket_table(figures))
        console.print(waits_text(figures.waits))
        if figures.left_open:
            console.print(left_open_note())
    else:
        console.print(_("No ticket on this day."))


@hall.command(
    "bookings",
    help=_(
        "List the bookings of a hall whose slot is on a day: booking id, slot, channel, state "
        "and ticket. Show one of them with zwbus hall booking ID."
    ),
)
@click.argument("hall_code", metavar="HALL")
@click.argument("day", metavar="DATE", type=_DATE)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
@click.pass_obj
def bookings_command(settings: Settings, hall_code: str, day: datetime, as_json: bool) -> None:
    bookings = run(api.day_bookings(settings, hall_code, day.date()))
    if as_json:
        _echo_json(bookings)
        return
    if not bookings:
        console.print(
            _("No booking of hall {hall} on {day}.").format(hall=hall_code, day=day.date()),
            markup=False,
        )
        return
    console.print(day_bookings_table(bookings))


@hall.command(
    "booking",
    help=_(
        "Show the online view of a booking: its state, and once checked in its ticket and "
        "place in the queue, or the window that called or serves it."
    ),
)
@click.argument("booking_id")
@click.option(
    "--hall", "hall_code", default=None, help=_("Hall code, when several halls use the id.")
)
@click.option("--json", "as_json", is_flag=True, help=_JSON_HELP)
@click.pass_obj
def booking(settings: Settings, booking_id: str, hall_code: str | None, as_json: bool) -> int:
    views = run(api.booking_views(settings, booking_id, hall=hall_code))
    if not views:
        error_console.print(
            _(
                "No booking has the id {booking_id}. If the platform sent it, it may be parked "
                "or quarantined: see zwbus parked list and zwbus quarantine list; or the "
                "projection may lag: see zwbus projections status."
            ).format(booking_id=booking_id),
            markup=False,
        )
        return 1
    if len(views) > 1:
        error_console.print(
            _("Booking id {booking_id} exists in {count} halls; choose one with --hall:").format(
                booking_id=booking_id, count=len(views)
            ),
            markup=False,
        )
        for view in views:
            state = label(BOOKING_STATE_LABELS, view.booking.state)
            error_console.print(f"  {view.booking.hall}  {state}", markup=False)
        return 1

    if as_json:
        _echo_json(views[0])
        return 0
    console.print(booking_table(views[0]))
    return 0

"""Writers of review, hall and sharing profiles and exports for ingest tests.

Each family has a profile with short English column names and a row
builder whose defaults make a valid record of 广安区 (511602); a test breaks
a rule by overriding one column. Review and hall profiles name the case
test system (``tests.adapters.helpers.SYSTEM``) as their ``case_system``,
so that cases ingested with the case test profile are the ones they name.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.adapters.helpers import DEPARTMENT_CODE, ITEM_CODE, REGION, SYSTEM

REVIEW_SOURCE = "review-source"
REVIEW_SYSTEM = "TEST-HCP"
HALL_SOURCE = "hall-source"
HALL_SYSTEM = "TEST-QUEUE"
SHARE_SOURCE = "share-source"
SHARE_SYSTEM = "TEST-SHARE"
HALL = "H511602A"
RATER = "11010519491231002X"

REVIEW_EVENTS = {
    "rated": "1",
    "verified": "2",
    "rectification_assigned": "3",
    "rectified": "4",
    "revisited": "5",
}
HALL_EVENTS = {
    "booking_created": "BC",
    "booking_cancelled": "BX",
    "booking_checked_in": "BI",
    "ticket_issued": "TI",
    "ticket_called": "TC",
    "ticket_recalled": "TR",
    "ticket_skipped": "TS",
    "service_started": "SS",
    "service_ended": "SE",
}
SHARE_EVENTS = {
    "resource_published": "RP",
    "resource_changed": "RC",
    "resource_withdrawn": "RW",
    "request_submitted": "QS",
    "request_approved": "QA",
    "request_denied": "QD",
    "request_delivered": "QV",
    "request_revoked": "QR",
    "objection_raised": "OR",
    "objection_resolved": "OS",
}
SHARE_TYPES = {"unconditional": "1", "conditional": "2", "none": "3"}


def _events_table(events: Mapping[str, str]) -> str:
    return "\n".join(f'"{code}" = "{name}"' for name, code in events.items())


REVIEW_PROFILE = f"""\
[source]
id = "{REVIEW_SOURCE}"
system = "{REVIEW_SYSTEM}"
family = "review"
encoding = "utf-8"
case_system = "{SYSTEM}"

[fields]
event = "type"
event_time = "time"
region = "area"
department_code = "dept"
local_no = "no"
case_code = "code"
item_code = "item"
level = "level"
channel = "channel"
rater = "rater"
reason_tags = "tags"
text = "text"
is_default = "default"
valid = "valid"
assignee = "assignee"
satisfaction = "satisfaction"

[events]
{_events_table(REVIEW_EVENTS)}

[codes.channel]
"1" = "web"
"2" = "mobile"
"3" = "window"

[codes.level]
"1" = "1"
"2" = "2"
"3" = "3"
"4" = "4"
"5" = "5"
"""

HALL_PROFILE = f"""\
[source]
id = "{HALL_SOURCE}"
system = "{HALL_SYSTEM}"
family = "hall"
encoding = "utf-8"
case_system = "{SYSTEM}"

[fields]
event = "type"
event_time = "time"
region = "area"
department_code = "dept"
hall = "hall"
booking_id = "booking"
ticket_id = "ticket"
item_code = "item"
channel = "channel"
slot_date = "slot_date"
slot_start = "slot_start"
slot_end = "slot_end"
person = "person"
ticket_no = "shown_no"
queue = "queue"
priority = "priority"
window = "window"
local_no = "case_no"

[events]
{_events_table(HALL_EVENTS)}
"""

SHARE_PROFILE = f"""\
[source]
id = "{SHARE_SOURCE}"
system = "{SHARE_SYSTEM}"
family = "share"
encoding = "utf-8"

[fields]
event = "type"
event_time = "time"
region = "area"
department_code = "dept"
resource_code = "resource"
name = "name"
provider = "provider"
share_type = "share_type"
data_items = "items"
request_id = "request"
requester = "requester"
purpose = "purpose"
reason = "reason"
count = "count"
channel = "channel"
objection_id = "objection"
disputed_record_key = "disputed"
field = "field"
claimed_value = "claimed"
raised_by = "raised_by"
outcome = "outcome"

[events]
{_events_table(SHARE_EVENTS)}

[codes.share_type]
{_events_table(SHARE_TYPES)}
"""


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def review_row(local_no: str, event: str, time: str, **overrides: str) -> dict[str, str]:
    """Build one review export row; ``event`` is a review event name such as ``rated``.

    By default the row rates case ``local_no`` of the case test system as
    非常不满意 (level 1) on the web channel, and follow-up rows carry a
    genuine verification, an assignee and a revisit level.
    """
    row = {
        "type": REVIEW_EVENTS[event],
        "time": time,
        "area": REGION,
        "dept": DEPARTMENT_CODE,
        "no": local_no,
        "code": "",
        "item": ITEM_CODE,
        "level": "1",
        "channel": "1",
        "rater": RATER,
        "tags": "510,511",
        "text": "等待时间太长",
        "default": "否",
        "valid": "是",
        "assignee": DEPARTMENT_CODE,
        "satisfaction": "4",
    }
    row.update(overrides)
    return row


def hall_row(event: str, time: str, **overrides: str) -> dict[str, str]:
    """Build one hall export row; ``event`` is a hall event name such as ``ticket_called``."""
    row = {
        "type": HALL_EVENTS[event],
        "time": time,
        "area": REGION,
        "dept": DEPARTMENT_CODE,
        "hall": HALL,
        "booking": "",
        "ticket": "",
        "item": ITEM_CODE,
        "channel": "online" if event.startswith("booking") else "kiosk",
        "slot_date": "2024-03-01",
        "slot_start": "09:00",
        "slot_end": "09:30",
        "person": RATER,
        "shown_no": "A015",
        "queue": "综合受理",
        "priority": "0",
        "window": "W03",
        "case_no": "",
    }
    row.update(overrides)
    return row


def share_row(event: str, time: str, **overrides: str) -> dict[str, str]:
    """Build one sharing export row; ``event`` is a sharing event name (``request_approved``)."""
    row = {
        "type": SHARE_EVENTS[event],
        "time": time,
        "area": REGION,
        "dept": DEPARTMENT_CODE,
        "resource": "",
        "name": "户籍人口基本信息",
        "provider": DEPARTMENT_CODE,
        "share_type": SHARE_TYPES["unconditional"],
        "items": "姓名:string,公民身份号码:string；出生日期:date",
        "request": "",
        "requester": "11511600MB1234567X",
        "purpose": "户籍核验",
        "reason": "",
        "count": "120",
        "channel": "api",
        "objection": "",
        "disputed": "",
        "field": "",
        "claimed": "",
        "raised_by": "11511600MB1234567X",
        "outcome": "corrected",
    }
    row.update(overrides)
    return row


def write_rows(path: Path, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write rows as a UTF-8 CSV with the first row's columns; return the path."""
    rows = list(rows)
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path

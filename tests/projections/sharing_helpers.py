"""Building, publishing and reading back data-sharing events for the sharing projection tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import aiosqlite

from bus.settings import Settings
from contracts.envelope import Envelope, Source, make_envelope
from contracts.identifiers import id_card_check_char
from contracts.ids import new_event_id
from contracts.share import SHARE_PAYLOADS, DataItem, SharePayload
from projections.checkpoint_store import store_path
from tests.projections.helpers import at

PROVIDER = "11510000MB0000001A"
REQUESTER = "11511602MB1234567X"
RESOURCE_REGION = "510000"
REQUEST_REGION = "511602"
PERSON_ID = "51160219900101123" + id_card_check_char("51160219900101123")

_PAYLOADS = {str(cls.__struct_config__.tag).removeprefix("share."): cls for cls in SHARE_PAYLOADS}
_KEY_FIELDS = {"resource": "resource_code", "request": "request_id", "objection": "objection_id"}


def _defaults(kind: str) -> dict[str, Any]:
    if kind == "resource_published":
        return {
            "name": "人口基础信息",
            "provider": PROVIDER,
            "provider_name": "四川省公安厅",
            "share_type": "conditional",
            "share_condition": "仅用于政务服务办理",
            "open_type": "closed",
            "update_cycle": "每日",
            "format": "api",
            "data_items": (DataItem(name="姓名"), DataItem(name="身份证号")),
        }
    if kind == "request_submitted":
        return {
            "resource_code": "RES-1",
            "requester": REQUESTER,
            "requester_name": "广安区行政审批局",
            "purpose": "户籍核验",
            "data_items": ("姓名", "身份证号"),
        }
    if kind == "request_denied":
        return {"reason": "用途与共享条件不符"}
    if kind == "request_delivered":
        return {"count": 10, "channel": "api"}
    if kind == "objection_raised":
        return {
            "resource_code": "RES-1",
            "request_id": "REQ-1",
            "record_key": PERSON_ID,
            "field": "住址",
            "claimed_value": "广安区建设路1号",
            "raised_by": REQUESTER,
        }
    if kind == "objection_resolved":
        return {"outcome": "corrected"}
    return {}


def share_event(
    kind: str,
    key: str,
    occurred_at: Any,
    *,
    event_id: str | None = None,
    region: str | None = None,
    **fields: Any,
) -> Envelope:
    """Build a sharing event of ``kind`` (``request_approved`` …) for entity ``key``."""
    entity = kind.split("_", 1)[0]
    payload_fields: dict[str, Any] = {_KEY_FIELDS[entity]: key, "system": "SC-DSP"}
    payload_fields |= _defaults(kind)
    payload_fields |= fields
    payload = cast(SharePayload, _PAYLOADS[kind](**payload_fields))
    if region is None:
        region = RESOURCE_REGION if entity == "resource" else REQUEST_REGION
    department = PROVIDER if entity == "resource" else REQUESTER
    correlation = payload_fields.get("request_id") or payload_fields.get("resource_code") or key
    return make_envelope(
        payload,
        id=event_id or new_event_id(),
        occurred_at=occurred_at,
        recorded_at=occurred_at + timedelta(minutes=5),
        source=Source(adapter="test", system="SC-DSP"),
        region=region,
        department=department,
        key=key,
        correlation_id=correlation,
    )


async def fetch_rows(settings: Settings, sql: str, *parameters: object) -> list[dict[str, Any]]:
    """Run a query on the sharing store and return plain dictionaries."""
    path = store_path(settings.data_dir, "sharing")
    async with aiosqlite.connect(path) as connection:
        connection.row_factory = aiosqlite.Row
        async with connection.execute(sql, parameters) as cursor:
            return [dict(row) async for row in cursor]


def request_flow(request_id: str, resource: str = "RES-1") -> list[Envelope]:
    """Submission, approval and two deliveries of one request, across the National Day holiday."""
    return [
        share_event("request_submitted", request_id, at("2026-09-30", "09:00"),
                    resource_code=resource),
        share_event("request_approved", request_id, at("2026-10-08", "10:00")),
        share_event("request_delivered", request_id, at("2026-10-10", "09:00"), count=100),
        share_event("request_delivered", request_id, at("2026-10-12", "09:00"), count=50),
    ]

"""The sharing read model fed through a real nats-server: catalogue, requests, objections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.settings import Settings
from contracts.envelope import Envelope
from contracts.identifiers import mask_identifier
from contracts.share import DataItem
from projections.sharing import queries
from projections.sharing.api import open_sharing_store, run_sharing_projection, sharing_backlog
from tests.projections.helpers import at, publish
from tests.projections.sharing_helpers import (
    PERSON_ID,
    PROVIDER,
    fetch_rows,
    request_flow,
    share_event,
)

Bus = tuple[Client, JetStreamContext]


async def catalogue(settings: Settings, **filters: Any) -> dict[str, queries.CatalogueEntry]:
    async with open_sharing_store(settings) as connection:
        entries = await queries.list_catalogue(connection, queries.CatalogueFilter(**filters))
    return {entry.code: entry for entry in entries}


async def request_list(settings: Settings, **filters: Any) -> queries.RequestList:
    async with open_sharing_store(settings) as connection:
        return await queries.list_requests(connection, queries.RequestFilter(**filters))


async def objections(
    settings: Settings, now: datetime, *, open_only: bool = False
) -> dict[str, queries.ObjectionView]:
    async with open_sharing_store(settings) as connection:
        views = await queries.list_objections(connection, now, open_only=open_only)
    return {view.objection_id: view for view in views}


async def test_late_earlier_change_keeps_later_fields(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    published = share_event("resource_published", "RES-1", at("2026-10-08", "09:00"))
    second = share_event("resource_changed", "RES-1", at("2026-10-10", "09:00"), name="人口信息")
    first = share_event(
        "resource_changed", "RES-1", at("2026-10-09", "09:00"), name="旧名称", format="file"
    )
    await publish(client, [published, second])
    await run_sharing_projection(settings)

    await publish(client, [first])
    summary = await run_sharing_projection(settings)
    resource = (await catalogue(settings))["RES-1"]

    assert summary.applied == 1
    assert resource.name == "人口信息"
    assert resource.format == "file"
    assert resource.update_cycle == "每日"
    assert resource.share_type == "conditional"
    assert resource.share_condition == "仅用于政务服务办理"
    assert resource.provider == PROVIDER
    assert resource.data_items == [
        queries.DataItemView(name="姓名"),
        queries.DataItemView(name="身份证号"),
    ]
    assert resource.state == "published"
    assert resource.published_at == "2026-10-08T09:00:00.000000+08:00"
    assert resource.events == 3


async def test_change_before_publication_survives(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    change = share_event(
        "resource_changed",
        "RES-2",
        at("2026-10-09", "09:00"),
        share_type="unconditional",
        data_items=(DataItem(name="企业名称"),),
    )
    await publish(client, [change])
    await run_sharing_projection(settings)
    before = (await catalogue(settings))["RES-2"]

    await publish(client, [share_event("resource_published", "RES-2", at("2026-10-08", "09:00"))])
    await run_sharing_projection(settings)
    resource = (await catalogue(settings))["RES-2"]

    assert before.state == "published"
    assert before.state_at == "2026-10-09T09:00:00.000000+08:00"
    assert before.name is None
    assert before.share_type == "unconditional"
    assert resource.share_type == "unconditional"
    assert resource.data_items == [queries.DataItemView(name="企业名称")]
    assert resource.name == "人口基础信息"
    assert resource.state == "published"
    assert resource.state_at == "2026-10-08T09:00:00.000000+08:00"


async def test_withdrawal_ends_state_and_filters_apply(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish(
        client,
        [
            share_event("resource_published", "RES-A", at("2026-10-08", "09:00")),
            share_event("resource_withdrawn", "RES-A", at("2026-10-09", "09:00")),
            share_event(
                "resource_published",
                "RES-B",
                at("2026-10-08", "09:00"),
                provider="11510000MB0000002B",
                share_type="none",
            ),
        ],
    )
    await run_sharing_projection(settings)

    everything = await catalogue(settings)
    by_provider = await catalogue(settings, provider=PROVIDER)
    not_shared = await catalogue(settings, share_type="none")
    withdrawn = await catalogue(settings, state="withdrawn")

    assert everything["RES-A"].state == "withdrawn"
    assert everything["RES-A"].state_at == "2026-10-09T09:00:00.000000+08:00"
    assert sorted(everything) == ["RES-A", "RES-B"]
    assert sorted(by_provider) == ["RES-A"]
    assert sorted(not_shared) == ["RES-B"]
    assert sorted(withdrawn) == ["RES-A"]


async def test_request_timings_count_working_days(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    same_day = [
        share_event("request_submitted", "REQ-2", at("2026-10-09", "09:00")),
        share_event("request_approved", "REQ-2", at("2026-10-09", "15:00")),
    ]
    denied = [
        share_event("request_submitted", "REQ-3", at("2026-10-12", "09:00")),
        share_event("request_denied", "REQ-3", at("2026-10-13", "09:00")),
    ]
    await publish(client, [share_event("resource_published", "RES-1", at("2026-09-01"))])
    await publish(client, [*request_flow("REQ-1"), *same_day, *denied])

    await run_sharing_projection(settings)
    listing = await request_list(settings)
    views = {view.request_id: view for view in listing.requests}

    across_holiday = views["REQ-1"]
    assert across_holiday.state == "delivering"
    assert across_holiday.resource_name == "人口基础信息"
    assert across_holiday.approval_hours == 193.0
    assert across_holiday.approval_working_days == 1
    assert across_holiday.delivery_hours == 240.0
    assert across_holiday.delivery_working_days == 3
    assert across_holiday.deliveries == 2
    assert across_holiday.delivered_records == 150
    assert across_holiday.first_delivered_at == "2026-10-10T09:00:00.000000+08:00"
    assert across_holiday.last_delivered_at == "2026-10-12T09:00:00.000000+08:00"
    assert views["REQ-2"].state == "approved"
    assert views["REQ-2"].approval_hours == 6.0
    assert views["REQ-2"].approval_working_days == 0
    assert views["REQ-2"].delivery_hours is None
    assert views["REQ-3"].state == "denied"
    assert views["REQ-3"].denial_reason == "用途与共享条件不符"
    assert views["REQ-3"].approval_hours is None
    assert [view.request_id for view in listing.requests] == ["REQ-3", "REQ-2", "REQ-1"]
    assert listing.medians == queries.RequestMedians(
        requests=3,
        approved=2,
        approval_hours=99.5,
        approval_working_days=0.5,
        delivered=1,
        delivery_hours=240.0,
        delivery_working_days=3,
    )


async def test_late_approval_keeps_request_delivering(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    submitted, approved, delivered, _second = request_flow("REQ-4")
    await publish(client, [delivered, submitted])
    await run_sharing_projection(settings)
    before = (await request_list(settings)).requests[0]

    await publish(client, [approved])
    await run_sharing_projection(settings)
    after = (await request_list(settings)).requests[0]

    assert before.state == "delivering"
    assert before.approval_hours is None
    assert before.delivery_working_days == 3
    assert after.state == "delivering"
    assert after.approval_working_days == 1
    assert after.events == 3


async def test_request_filters_and_revocation(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    revoked = [
        *request_flow("REQ-5", resource="RES-9"),
        share_event("request_revoked", "REQ-5", at("2026-10-13", "09:00"), reason="超范围使用"),
    ]
    await publish(client, [*revoked, *request_flow("REQ-6")])
    await run_sharing_projection(settings)

    by_state = await request_list(settings, state="revoked")
    by_resource = await request_list(settings, resource="RES-1")

    assert [view.request_id for view in by_state.requests] == ["REQ-5"]
    assert by_state.requests[0].revoke_reason == "超范围使用"
    assert by_state.requests[0].deliveries == 2
    assert by_state.medians.requests == 1
    assert [view.request_id for view in by_resource.requests] == ["REQ-6"]
    assert by_resource.requests[0].resource_name is None


async def test_objection_ages_and_resolutions(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    resolved_first = share_event(
        "objection_resolved", "OBJ-3", at("2026-10-12"), outcome="upheld", note="经核实无误"
    )
    await publish(
        client,
        [
            share_event("objection_raised", "OBJ-1", at("2026-09-30", "10:00")),
            share_event(
                "objection_raised", "OBJ-2", at("2026-10-08", "09:00"), claimed_value=PERSON_ID
            ),
            share_event("objection_resolved", "OBJ-2", at("2026-10-09", "09:00")),
            resolved_first,
        ],
    )
    await run_sharing_projection(settings)
    await publish(client, [share_event("objection_raised", "OBJ-3", at("2026-10-10", "09:00"))])
    await run_sharing_projection(settings)
    now = at("2026-10-09", "10:00")

    views = await objections(settings, now)
    open_views = await objections(settings, now, open_only=True)
    backlog = await sharing_backlog(settings, now)

    assert sorted(open_views) == ["OBJ-1"]
    assert views["OBJ-1"].state == "open"
    assert views["OBJ-1"].age_days == 9.0
    assert views["OBJ-1"].age_working_days == 2
    assert views["OBJ-1"].record_key_masked == mask_identifier(PERSON_ID)
    assert views["OBJ-1"].record_key_pseudonym is not None
    assert len(views["OBJ-1"].record_key_pseudonym) == 64
    assert views["OBJ-1"].claimed_value == "广安区建设路1号"
    assert views["OBJ-2"].state == "corrected"
    assert views["OBJ-2"].age_days is None
    assert views["OBJ-2"].resolved_at == "2026-10-09T09:00:00.000000+08:00"
    assert views["OBJ-2"].claimed_value == mask_identifier(PERSON_ID)
    assert views["OBJ-3"].state == "upheld"
    assert views["OBJ-3"].note == "经核实无误"
    assert views["OBJ-3"].raised_at == "2026-10-10T09:00:00.000000+08:00"
    assert views["OBJ-3"].field == "住址"
    assert backlog.open_objections == 1
    assert backlog.oldest_objection_id == "OBJ-1"
    assert backlog.oldest_objection_age_days == 9.0
    assert backlog.oldest_objection_age_working_days == 2
    assert backlog.as_of == "2026-10-09T10:00:00.000000+08:00"


async def test_raw_identifiers_stay_out_of_store(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish(
        client,
        [share_event("objection_raised", "OBJ-9", at("2026-10-08"), claimed_value=PERSON_ID)],
    )
    await run_sharing_projection(settings)

    [event] = await fetch_rows(settings, "SELECT payload FROM sharing_events")
    [row] = await fetch_rows(settings, "SELECT * FROM sharing_objections")

    assert PERSON_ID not in event["payload"]
    assert PERSON_ID not in repr(row)
    assert msgspec.json.decode(event["payload"])["record_key"] == mask_identifier(PERSON_ID)


async def test_backlog_counts_waiting_requests(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    await publish(
        client,
        [
            share_event("request_submitted", "REQ-A", at("2026-10-08")),
            share_event("request_submitted", "REQ-B", at("2026-10-08")),
            share_event("request_approved", "REQ-B", at("2026-10-09")),
            *request_flow("REQ-C"),
        ],
    )
    await run_sharing_projection(settings)

    backlog = await sharing_backlog(settings, at("2026-10-20"))

    assert backlog.awaiting_approval == 1
    assert backlog.approved_not_delivered == 1
    assert backlog.open_objections == 0
    assert backlog.oldest_objection_id is None
    assert backlog.oldest_objection_age_days is None


async def test_resent_events_count_once(bus: Bus, settings: Settings) -> None:
    client, _js = bus
    flow = request_flow("REQ-D")
    await publish(client, flow)
    first = await run_sharing_projection(settings)

    await publish(client, flow, msg_ids=[f"{event.id}-resent" for event in flow])
    await publish(client, flow[2:], msg_ids=[f"{event.id}-again" for event in flow[2:]])
    second = await run_sharing_projection(settings)
    [row] = await fetch_rows(settings, "SELECT deliveries, delivered_records, events "
                                       "FROM sharing_requests")
    [stored] = await fetch_rows(settings, "SELECT COUNT(*) AS n FROM sharing_events")

    assert first.applied == 4
    assert second.applied == 0
    assert second.duplicates == 6
    assert row == {"deliveries": 2, "delivered_records": 150, "events": 4}
    assert stored == {"n": 4}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            share_event("request_delivered", "REQ-X", at("2026-10-08"), request_id="REQ-Y"),
            "payload request_id 'REQ-Y' differs from the envelope key 'REQ-X'",
        ),
        (
            share_event("request_delivered", "REQ-Z", at("2026-10-08"), count=-1),
            "delivered count -1 is negative",
        ),
    ],
)
async def test_contract_breaks_are_set_aside(
    bus: Bus, settings: Settings, event: Envelope, reason: str
) -> None:
    client, _js = bus
    await publish(client, [event])

    summary = await run_sharing_projection(settings)
    rows = await fetch_rows(settings, "SELECT kind, reason FROM set_aside")

    assert summary.set_aside == 1
    assert summary.applied == 0
    assert rows == [{"kind": "rejected", "reason": reason}]

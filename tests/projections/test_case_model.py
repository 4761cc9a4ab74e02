"""The case database model on a real SQLite file: ordering, idempotency, deadlines, queries."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import aiosqlite
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bus.errors import ConfigError
from contracts.envelope import Envelope
from contracts.identifiers import mask_identifier
from projections.base import ApplyCounts, Delivered
from projections.cases import CasesProjection, queries
from projections.cases.schema import SCHEMA
from projections.checkpoint_store import ProjectionStore, store_path
from projections.pseudonym import Pseudonymizer
from tests.projections.helpers import (
    APPLICANT_ID,
    DEPARTMENT,
    ITEM_CODE,
    at,
    case_event,
    subject_of,
)

KEY = b"test-key-of-thirty-two-bytes-000"
PSEUDONYMIZER = Pseudonymizer(KEY)


class Model:
    """A case store in a temporary folder, fed directly without a bus."""

    def __init__(self, folder: Path) -> None:
        self.path = store_path(folder, "cases")
        self.projection = CasesProjection(PSEUDONYMIZER)
        self._seq = itertools.count(1)

    async def apply(self, *events: Envelope) -> ApplyCounts:
        async with ProjectionStore.open(self.path, projection="cases") as store:
            await self.projection.create_schema(store.connection)
            delivered = [Delivered(next(self._seq), subject_of(event), event) for event in events]
            for item in delivered:
                assert self.projection.check(item) is None
            async with store.transaction() as connection:
                return await self.projection.apply(connection, delivered)

    async def case(self, code: str, today: date = date(2026, 10, 9)) -> queries.CaseView:
        async with ProjectionStore.open(self.path, projection="cases", create=False) as store:
            views = await queries.find_cases(store.connection, code, today)
        assert len(views) == 1
        return views[0]

    async def history(self, code: str) -> list[queries.HistoryEntry]:
        async with ProjectionStore.open(self.path, projection="cases", create=False) as store:
            return await queries.case_history(store.connection, code)

    async def list(self, today: date, **filters: Any) -> list[str]:
        async with ProjectionStore.open(self.path, projection="cases", create=False) as store:
            views = await queries.list_cases(store.connection, queries.CaseFilter(**filters), today)
        return [view.case.code for view in views]

    async def overdue_count(self, today: date) -> int:
        async with ProjectionStore.open(self.path, projection="cases", create=False) as store:
            return await queries.count_overdue(store.connection, today)


@pytest.fixture
def model(tmp_path: Path) -> Model:
    return Model(tmp_path)


def standard_flow(code: str) -> list[Envelope]:
    return [
        case_event("submitted", code, at("2026-09-30", "09:00"), promised_days=5),
        case_event("accepted", code, at("2026-09-30", "10:00"), promised_days=3),
        case_event("step_completed", code, at("2026-10-08", "15:00")),
        case_event("concluded", code, at("2026-10-09", "11:00"), result="approved"),
        case_event("result_delivered", code, at("2026-10-09", "16:00")),
    ]


async def test_flow_gives_state_and_history(model: Model) -> None:
    events = standard_flow("C1")

    counts = await model.apply(*events)
    view = await model.case("C1")
    history = await model.history("C1")

    assert counts.applied == 5
    assert counts.duplicates == 0
    case = view.case
    assert case.status == "result_delivered"
    assert case.status_at == "2026-10-09T16:00:00.000000+08:00"
    assert case.submitted_at == "2026-09-30T09:00:00.000000+08:00"
    assert case.accepted_at == "2026-09-30T10:00:00.000000+08:00"
    assert case.concluded_at == "2026-10-09T11:00:00.000000+08:00"
    assert case.result == "approved"
    assert case.promised_days == 3
    assert case.due_date == "2026-10-10"
    assert case.department_code == DEPARTMENT
    assert case.department_name == "广安区公安分局"
    assert case.item_code == ITEM_CODE
    assert case.region == "511602"
    assert case.local_no == "L-C1"
    assert case.system == "GA-SPXT"
    assert case.events == 5
    assert case.last_event_id == events[-1].id
    assert not view.overdue
    assert [entry.type for entry in history] == [event.type for event in events]
    assert [entry.event_id for entry in history] == [event.id for event in events]


async def test_local_number_finds_case(model: Model) -> None:
    await model.apply(*standard_flow("C1"))

    async with ProjectionStore.open(model.path, projection="cases", create=False) as store:
        views = await queries.find_cases(store.connection, "L-C1", date(2026, 10, 9))

    assert [view.case.code for view in views] == ["C1"]


async def test_late_earlier_status_keeps_case_forward(model: Model) -> None:
    await model.apply(case_event("accepted", "C2", at("2026-10-12", "10:00"), promised_days=2))
    await model.apply(case_event("concluded", "C2", at("2026-10-13", "10:00")))

    await model.apply(case_event("submitted", "C2", at("2026-10-12", "09:00")))
    view = await model.case("C2")

    assert view.case.status == "concluded"
    assert view.case.submitted_at == "2026-10-12T09:00:00.000000+08:00"
    assert view.case.applicant_masked == mask_identifier(APPLICANT_ID)
    assert view.case.promised_days == 2
    assert view.case.events == 3


async def test_rank_breaks_business_time_tie(model: Model) -> None:
    moment = at("2026-10-12", "10:00")

    await model.apply(case_event("accepted", "C3", moment))
    await model.apply(case_event("submitted", "C3", moment))
    view = await model.case("C3")

    assert view.case.status == "accepted"


async def test_duplicate_event_ids_count_once(model: Model) -> None:
    submitted = case_event("submitted", "C4", at("2026-10-12", "09:00"))
    accepted = case_event("accepted", "C4", at("2026-10-12", "10:00"), promised_days=1)

    first = await model.apply(submitted, accepted, submitted)
    second = await model.apply(accepted, submitted)
    view = await model.case("C4")

    assert first.applied == 2
    assert first.duplicates == 1
    assert second.applied == 0
    assert second.duplicates == 2
    assert view.case.events == 2
    assert len(await model.history("C4")) == 2


async def test_suspension_extends_due_date(model: Model) -> None:
    await model.apply(
        case_event("submitted", "C5", at("2026-10-12", "09:00")),
        case_event("accepted", "C5", at("2026-10-12", "10:00"), promised_days=5),
        case_event("suspended", "C5", at("2026-10-13", "10:00")),
    )
    suspended = await model.case("C5")

    await model.apply(case_event("resumed", "C5", at("2026-10-15", "10:00")))
    resumed = await model.case("C5")

    assert suspended.case.paused_days == 0
    assert suspended.case.due_date == "2026-10-19"
    assert resumed.case.paused_days == 2
    assert resumed.case.due_date == "2026-10-21"
    assert resumed.case.status == "resumed"


async def test_resumption_arriving_first_counts_pause(model: Model) -> None:
    await model.apply(
        case_event("accepted", "C6", at("2026-10-12", "10:00"), promised_days=5),
        case_event("resumed", "C6", at("2026-10-15", "10:00")),
    )
    await model.apply(case_event("suspended", "C6", at("2026-10-13", "10:00")))
    view = await model.case("C6")

    assert view.case.paused_days == 2
    assert view.case.due_date == "2026-10-21"
    assert view.case.status == "resumed"


async def test_pause_over_national_day_counts_workdays(model: Model) -> None:
    await model.apply(
        case_event("accepted", "C7", at("2026-09-29", "10:00"), promised_days=2),
        case_event("suspended", "C7", at("2026-09-30", "10:00")),
        case_event("resumed", "C7", at("2026-10-09", "10:00")),
    )
    view = await model.case("C7")

    assert view.case.paused_days == 2
    assert view.case.due_date == "2026-10-10"


async def test_overdue_is_decided_at_query_time(model: Model) -> None:
    await model.apply(
        case_event("submitted", "OPEN", at("2026-09-30", "09:00")),
        case_event("accepted", "OPEN", at("2026-09-30", "10:00"), promised_days=3),
    )

    on_due_date = await model.case("OPEN", today=date(2026, 10, 10))
    day_after = await model.case("OPEN", today=date(2026, 10, 11))

    assert on_due_date.case.due_date == "2026-10-10"
    assert not on_due_date.overdue
    assert day_after.overdue
    assert await model.overdue_count(date(2026, 10, 10)) == 0
    assert await model.overdue_count(date(2026, 10, 11)) == 1


async def test_late_conclusion_stays_overdue(model: Model) -> None:
    await model.apply(
        case_event("accepted", "LATE", at("2026-09-30", "10:00"), promised_days=3),
        case_event("concluded", "LATE", at("2026-10-12", "10:00")),
        case_event("accepted", "ONTIME", at("2026-09-30", "10:00"), promised_days=3),
        case_event("concluded", "ONTIME", at("2026-10-10", "17:00")),
    )

    assert (await model.case("LATE", today=date(2026, 10, 1))).overdue
    assert not (await model.case("ONTIME", today=date(2026, 12, 1))).overdue


async def test_withdrawn_or_suspended_not_overdue(model: Model) -> None:
    await model.apply(
        case_event("accepted", "GONE", at("2026-09-30", "10:00"), promised_days=3),
        case_event("withdrawn", "GONE", at("2026-10-09", "10:00")),
        case_event("accepted", "HELD", at("2026-09-30", "10:00"), promised_days=3),
        case_event("suspended", "HELD", at("2026-10-09", "10:00")),
        case_event("accepted", "HELD_LATE", at("2026-09-30", "10:00"), promised_days=3),
        case_event("suspended", "HELD_LATE", at("2026-10-12", "10:00")),
    )
    today = date(2026, 11, 2)

    assert not (await model.case("GONE", today=today)).overdue
    assert not (await model.case("HELD", today=today)).overdue
    assert (await model.case("HELD_LATE", today=today)).overdue


async def test_identifiers_stored_pseudonymised_and_masked(model: Model) -> None:
    await model.apply(*standard_flow("C8"))

    view = await model.case("C8")
    history = await model.history("C8")

    assert view.case.applicant_masked == APPLICANT_ID[:4] + "*" * 10 + APPLICANT_ID[-4:]
    assert view.case.applicant_pseudonym == PSEUDONYMIZER.pseudonym(APPLICANT_ID)
    assert view.case.applicant_id_type == "id_card"
    submitted = history[0].payload
    assert submitted["applicant_id"] == view.case.applicant_masked
    assert submitted["applicant_pseudonym"] == view.case.applicant_pseudonym
    assert submitted["phone"] == "1381***5678"
    stored_bytes = b"".join(
        path.read_bytes() for path in model.path.parent.iterdir() if path.is_file()
    )
    assert APPLICANT_ID.encode() not in stored_bytes
    assert b"13812345678" not in stored_bytes


async def test_list_filters(model: Model) -> None:
    await model.apply(
        case_event(
            "submitted", "A", at("2026-10-08", "09:00"), region="511602", item_code="ITEM-A"
        ),
        case_event("accepted", "A", at("2026-10-08", "10:00"), region="511602", promised_days=1),
        case_event("submitted", "B", at("2026-10-09", "09:00"), region="511621"),
        case_event("submitted", "C", at("2026-10-12", "09:00"), region="510104"),
    )
    today = date(2026, 10, 20)

    assert await model.list(today) == ["C", "B", "A"]
    assert await model.list(today, region="51") == ["C", "B", "A"]
    assert await model.list(today, region="5116") == ["B", "A"]
    assert await model.list(today, region="511602") == ["A"]
    assert await model.list(today, region="5117") == []
    assert await model.list(today, status="accepted") == ["A"]
    assert await model.list(today, item="ITEM-A") == ["A"]
    assert await model.list(today, department=DEPARTMENT, limit=2) == ["C", "B"]
    assert await model.list(today, since=date(2026, 10, 9)) == ["C", "B"]
    assert await model.list(today, until=date(2026, 10, 9)) == ["B", "A"]
    assert await model.list(today, overdue=True) == ["A"]
    with pytest.raises(ConfigError, match="2 digits"):
        await model.list(today, region="511")


async def test_naive_time_fails_check() -> None:
    event = case_event("accepted", "N1", at("2026-10-12").replace(tzinfo=None))
    projection = CasesProjection(PSEUDONYMIZER)

    problem = projection.check(Delivered(1, subject_of(event), event))

    assert problem == "occurred_at has no time zone"


async def test_subject_key_mismatch_fails_check() -> None:
    event = case_event("accepted", "K1", at("2026-10-12"))
    projection = CasesProjection(PSEUDONYMIZER)

    problem = projection.check(Delivered(1, "zw.case.51.16.02.OTHER", event))

    assert problem is not None
    assert "does not carry the envelope key" in problem


async def test_absurd_promised_days_fail_check() -> None:
    event = case_event("accepted", "P1", at("2026-10-12"), promised_days=100_000)
    projection = CasesProjection(PSEUDONYMIZER)

    problem = projection.check(Delivered(1, subject_of(event), event))

    assert problem == "promised_days 100000 is outside 0-3650"


# --- any arrival order gives the same case ------------------------------------

_FLOW: list[tuple[str, str, str, dict[str, Any]]] = [
    ("submitted", "2026-09-29", "09:00", {"promised_days": 4}),
    ("accepted", "2026-09-29", "11:00", {"promised_days": 3}),
    ("supplement_requested", "2026-09-30", "09:00", {}),
    ("supplemented", "2026-10-08", "09:00", {}),
    ("suspended", "2026-10-08", "14:00", {}),
    ("resumed", "2026-10-12", "09:00", {}),
    ("concluded", "2026-10-14", "10:00", {"result": "denied"}),
    ("result_delivered", "2026-10-14", "10:00", {}),
]
_FLOW_EVENTS = [
    case_event(kind, "PERM", at(day, clock), event_id=f"perm-{index}", **fields)
    for index, (kind, day, clock, fields) in enumerate(_FLOW)
]


async def _final_state(batches: Sequence[Sequence[Envelope]]) -> dict[str, Any]:
    connection = await aiosqlite.connect(":memory:", isolation_level=None)
    try:
        connection.row_factory = aiosqlite.Row
        await connection.executescript(SCHEMA)
        projection = CasesProjection(PSEUDONYMIZER)
        seq = itertools.count(1)
        for batch in batches:
            await connection.execute("BEGIN")
            await projection.apply(
                connection, [Delivered(next(seq), subject_of(e), e) for e in batch]
            )
            await connection.execute("COMMIT")
        views = await queries.find_cases(connection, "PERM", date(2026, 10, 20))
        return msgspec.structs.asdict(views[0].case) | {"overdue": views[0].overdue}
    finally:
        await connection.close()


_IN_ORDER = asyncio.run(_final_state([_FLOW_EVENTS]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    order=st.permutations(_FLOW_EVENTS),
    repeats=st.lists(st.sampled_from(_FLOW_EVENTS), max_size=4),
    cuts=st.lists(st.integers(min_value=1, max_value=11), max_size=3),
)
def test_any_arrival_order_gives_same_case(
    order: list[Envelope], repeats: list[Envelope], cuts: list[int]
) -> None:
    arrivals = order + repeats
    bounds = sorted({0, len(arrivals), *[cut for cut in cuts if cut < len(arrivals)]})
    batches = [arrivals[start:end] for start, end in itertools.pairwise(bounds)]

    state = asyncio.run(_final_state(batches))

    expected = dict(_IN_ORDER)
    assert state.pop("last_event_id") in {event.id for event in _FLOW_EVENTS}
    expected.pop("last_event_id")
    assert state == expected
    assert state["status"] == "result_delivered"
    # Paused: 10-09, the make-up Saturday 10-10 and 10-12. Due: six working
    # days after 09-29, skipping the National Day holiday.
    assert state["paused_days"] == 3
    assert state["due_date"] == "2026-10-13"

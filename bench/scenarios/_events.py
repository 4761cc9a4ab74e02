"""Synthetic case (办件) events of about 1.1 KB, the size the ingest publishes.

Events are real envelopes that ``decode_event`` and the case projection
accept: each case gets a submission (申请) and then an acceptance (受理),
so the projection both inserts and updates rows. Keys, event ids and
subjects differ by run, so two runs never collide in a deduplication window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.case import CaseAccepted, CaseSubmitted
from contracts.envelope import Envelope, Source, encode_event, make_envelope
from contracts.identifiers import CHINA_TIME
from contracts.subjects import entity_subject

EVENT_BYTES = 1100
"""Target size of one encoded envelope."""
REGION = "511602"
DEPARTMENT = "115116020087654321"
SYSTEM = "BENCH-SPXT"
_REMARK_UNIT = "申请材料齐全，已按承诺时限办理。"

Event = tuple[str, bytes, str]
"""Subject, encoded envelope and ``Nats-Msg-Id`` of one event."""


def case_key(run: int, case: int) -> str:
    """Return the unified case code (统一办件编码) of synthetic case ``case`` of ``run``."""
    return f"{REGION}2026{run:02d}{case:08d}B"


def _envelope(run: int, index: int, remark: str) -> Envelope:
    case = index // 2
    key = case_key(run, case)
    local_no = f"SP{run:02d}{case:08d}"
    occurred = datetime(2026, 6, 1, 9, 0, tzinfo=CHINA_TIME) + timedelta(seconds=index)
    payload: CaseSubmitted | CaseAccepted
    if index % 2 == 0:
        payload = CaseSubmitted(
            local_no=local_no,
            system=SYSTEM,
            remark=remark,
            item_code="11511602008765432100011151160201",
            item_name="食品经营许可（新办）",
            applicant_name="广安市前锋区示例餐饮店",
            applicant_id_type="uscc",
            applicant_id="92511602MA6BENCH01",
            phone="08282000000",
            department_name="广安区市场监督管理局",
            promised_days=10,
        )
    else:
        payload = CaseAccepted(local_no=local_no, system=SYSTEM, remark=remark, promised_days=10)
    return make_envelope(
        payload,
        id=f"{run:02d}-{index:012d}-bench",
        occurred_at=occurred,
        recorded_at=datetime(2026, 6, 1, 1, 0, tzinfo=UTC) + timedelta(seconds=index),
        source=Source(adapter="bench", system=SYSTEM),
        region=REGION,
        department=DEPARTMENT,
        key=key,
        correlation_id=key,
    )


def _padding(run: int, index: int) -> str:
    bare = len(encode_event(_envelope(run, index, "")))
    room = max(0, EVENT_BYTES - bare)
    text = _REMARK_UNIT * (room // len(_REMARK_UNIT.encode()) + 1)
    while len(text.encode()) > room:
        text = text[:-1]
    return text


def case_event(run: int, index: int, remark: str | None = None) -> Event:
    """Return event ``index`` of ``run``, padded to about ``EVENT_BYTES`` unless given a remark."""
    event = _envelope(run, index, _padding(run, index) if remark is None else remark)
    return entity_subject("case", REGION, event.key), encode_event(event), event.id


def case_events(count: int, run: int) -> list[Event]:
    """Return ``count`` events of ``run``: a submission and an acceptance per case."""
    remarks = (_padding(run, 0), _padding(run, 1))
    return [case_event(run, index, remarks[index % 2]) for index in range(count)]

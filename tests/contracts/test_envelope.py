"""The envelope codec: round trips, version checks and the upcaster chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import envelope as envelope_module
from contracts.case import CaseAccepted, CaseConcluded, CaseSubmitted
from contracts.envelope import (
    EventDecodeError,
    Source,
    decode_event,
    encode_event,
    make_envelope,
)
from contracts.ids import ingested_event_id, new_event_id
from contracts.subjects import decode_token, encode_token, entity_subject, quarantine_subject

SHANGHAI = timezone(timedelta(hours=8))


def _event(payload: Any) -> envelope_module.Envelope:
    return make_envelope(
        payload,
        id=new_event_id(),
        occurred_at=datetime(2026, 6, 1, 9, 30, tzinfo=SHANGHAI),
        recorded_at=datetime.now(UTC),
        source=Source(adapter="ga-approval", system="GA-SPXT"),
        region="511602",
        department="115113010833722043",
        key="51160220260601000001X",
        correlation_id="51160220260601000001X",
    )


def test_envelope_round_trip_keeps_payload_type() -> None:
    event = _event(CaseConcluded(local_no="P1", system="GA-SPXT", result="approved"))

    decoded = decode_event(encode_event(event))

    assert decoded == event
    assert isinstance(decoded.payload, CaseConcluded)
    assert decoded.type == "case.concluded"
    assert decoded.occurred_at.utcoffset() == timedelta(hours=8)


def test_decode_rejects_unknown_type() -> None:
    raw = msgspec.json.decode(encode_event(_event(CaseAccepted(local_no="P1", system="S"))))
    raw["type"] = "case.teleported"
    raw["payload"]["type"] = "case.teleported"

    with pytest.raises(EventDecodeError, match=r"unknown event type 'case\.teleported'"):
        decode_event(msgspec.json.encode(raw))


def test_decode_rejects_garbage_bytes() -> None:
    with pytest.raises(EventDecodeError, match="not a JSON object"):
        decode_event(b"\xff\xfe not json")


def test_decode_rejects_newer_version() -> None:
    raw = msgspec.json.decode(encode_event(_event(CaseAccepted(local_no="P1", system="S"))))
    raw["version"] = 99

    with pytest.raises(EventDecodeError, match="newer than this release"):
        decode_event(msgspec.json.encode(raw))


@pytest.fixture
def accepted_v2() -> Iterator[None]:
    """Pretend case.accepted is at version 2, with an upcaster from version 1."""

    def upcast_v1_v2(raw: dict[str, Any]) -> dict[str, Any]:
        payload = dict(raw["payload"])
        payload["remark"] = payload.get("remark") or "upcast from v1"
        return {**raw, "version": 2, "payload": payload}

    envelope_module.CURRENT_VERSIONS["case.accepted"] = 2
    envelope_module.UPCASTERS[("case.accepted", 1)] = upcast_v1_v2
    try:
        yield
    finally:
        envelope_module.CURRENT_VERSIONS["case.accepted"] = 1
        del envelope_module.UPCASTERS[("case.accepted", 1)]


def test_old_version_goes_through_upcaster(accepted_v2: None) -> None:
    raw = msgspec.json.decode(encode_event(_event(CaseAccepted(local_no="P1", system="S"))))
    raw["version"] = 1

    decoded = decode_event(msgspec.json.encode(raw))

    assert decoded.version == 2
    assert decoded.payload.remark == "upcast from v1"


def test_missing_upcaster_is_reported(accepted_v2: None) -> None:
    del envelope_module.UPCASTERS[("case.accepted", 1)]
    envelope_module.UPCASTERS[("case.accepted", 0)] = lambda raw: raw
    raw = msgspec.json.decode(encode_event(_event(CaseAccepted(local_no="P1", system="S"))))
    raw["version"] = 1

    try:
        with pytest.raises(EventDecodeError, match=r"no upcaster from case\.accepted version 1"):
            decode_event(msgspec.json.encode(raw))
    finally:
        envelope_module.UPCASTERS[("case.accepted", 1)] = envelope_module.UPCASTERS.pop(
            ("case.accepted", 0)
        )


def test_ingested_event_id_is_deterministic() -> None:
    first = ingested_event_id("GA-SPXT", "P1|case.accepted|2026-06-01T01:30:00+00:00", "1")
    again = ingested_event_id("GA-SPXT", "P1|case.accepted|2026-06-01T01:30:00+00:00", "1")
    other_version = ingested_event_id("GA-SPXT", "P1|case.accepted|2026-06-01T01:30:00+00:00", "2")

    assert first == again
    assert first != other_version


def test_new_event_ids_are_time_ordered() -> None:
    ids = [new_event_id() for _ in range(50)]

    assert all(len(value) == 32 for value in ids)
    assert all(value[12] == "7" for value in ids)
    assert [value[:12] for value in ids] == sorted(value[:12] for value in ids)


@given(st.text(min_size=1, max_size=40))
def test_subject_token_round_trip(key: str) -> None:
    token = encode_token(key)

    assert decode_token(token) == key
    assert token
    assert not set(token) & {".", "*", ">", " ", "\t", "\n"}


def test_entity_subject_carries_region_tokens() -> None:
    assert entity_subject("case", "511602", "ABC") == "zw.case.51.16.02.ABC"
    assert entity_subject("item", "511602", "a.b c") == "zw.item.51.16.02.a~2Eb~20c"


def test_quarantine_subject_with_invalid_region() -> None:
    assert quarantine_subject("case", "51160", "ga-approval") == (
        "zw.quarantine.case.00.00.00.ga-approval"
    )


def test_submitted_payload_requires_applicant() -> None:
    with pytest.raises(TypeError):
        CaseSubmitted(local_no="P1", system="S")  # type: ignore[call-arg]

"""Tests of the data-sharing (数据共享) ingestion path against a real nats-server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.family_profile import FamilyProfile, load_source_profile
from adapters.file_source import ingest_files
from adapters.ingest.tally import Tally
from adapters.quarantine_view import fold_quarantine
from bus import server
from bus.reader import read_stream
from bus.settings import Settings
from bus.streams import PARKED, SHARING
from contracts.envelope import Envelope, decode_event
from contracts.share import DataItem, ObjectionRaised, RequestSubmitted, ResourcePublished
from tests.adapters.family_helpers import (
    SHARE_PROFILE,
    SHARE_SOURCE,
    SHARE_TYPES,
    share_row,
    write_rows,
    write_text,
)

Bus = tuple[Client, JetStreamContext]
ZWBUS = Path(sys.executable).parent / "zwbus"


@pytest.fixture
def profile(tmp_path: Path) -> FamilyProfile:
    loaded = load_source_profile(write_text(tmp_path / "share.toml", SHARE_PROFILE))
    assert isinstance(loaded, FamilyProfile)
    return loaded


async def _events(js: JetStreamContext) -> list[tuple[str, Envelope]]:
    return [
        (message.subject, decode_event(message.data)) async for message in read_stream(js, SHARING)
    ]


async def _parked_keys(js: JetStreamContext) -> list[str]:
    bucket = await js.key_value(PARKED)
    try:
        return [key for key in await bucket.keys() if key.startswith("share.")]
    except nats.js.errors.NoKeysError:
        return []


def _assert_reconciles(tally: Tally) -> None:
    assert tally.reconciles, tally
    assert tally.read == tally.published + tally.duplicates + tally.quarantined + tally.parked


def _resource(code: str, share_type: str = "unconditional") -> dict[str, str]:
    return share_row(
        "resource_published",
        "2024-03-01 09:00:00",
        resource=code,
        share_type=SHARE_TYPES[share_type],
    )


def _request(request_id: str, resource: str, time: str = "2024-03-02 09:00:00") -> dict[str, str]:
    return share_row("request_submitted", time, request=request_id, resource=resource)


# Requests need a shareable resource -------------------------------------------


async def test_request_flow_published(
    settings: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [
        _resource("RES-1"),
        _request("Q1", "RES-1"),
        share_row("request_delivered", "2024-03-03 09:00:00", request="Q1"),
    ]

    tally = await ingest_files(settings, profile, [write_rows(tmp_path / "s.csv", rows)])
    events = await _events(js)

    _assert_reconciles(tally)
    assert tally.published == 3
    assert [subject for subject, _ in events] == [
        "zw.share.51.16.02.RES-1",
        "zw.share.51.16.02.Q1",
        "zw.share.51.16.02.Q1",
    ]
    assert [event.correlation_id for _, event in events] == ["RES-1", "Q1", "Q1"]
    resource = events[0][1].payload
    assert isinstance(resource, ResourcePublished)
    assert resource.share_type == "unconditional"
    assert resource.data_items == (
        DataItem(name="姓名", data_type="string"),
        DataItem(name="公民身份号码", data_type="string"),
        DataItem(name="出生日期", data_type="date"),
    )
    request = events[1][1].payload
    assert isinstance(request, RequestSubmitted)
    assert request.data_items == ("姓名:string", "公民身份号码:string", "出生日期:date")


async def test_request_for_unknown_resource_parked_then_released(
    settings: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    first = await ingest_files(
        settings, profile, [write_rows(tmp_path / "s1.csv", [_request("Q2", "RES-2")])]
    )

    assert first.parked == 1
    assert len(await _parked_keys(js)) == 1

    second = await ingest_files(
        settings, profile, [write_rows(tmp_path / "s2.csv", [_resource("RES-2")])]
    )

    _assert_reconciles(first)
    _assert_reconciles(second)
    assert second.published == 1
    assert second.released == 1
    assert [event.type for _, event in await _events(js)] == [
        "share.resource_published",
        "share.request_submitted",
    ]
    assert await _parked_keys(js) == []


async def test_request_released_later_in_same_file(
    settings: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [_request("Q3", "RES-3"), _resource("RES-3")]

    tally = await ingest_files(settings, profile, [write_rows(tmp_path / "s.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.parked == 0
    assert await _parked_keys(js) == []


async def test_not_shareable_resource_refused(
    settings: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [_resource("RES-4", "none"), _request("Q4", "RES-4")]

    tally = await ingest_files(settings, profile, [write_rows(tmp_path / "s.csv", rows)])
    (state,) = (await fold_quarantine(js, source_id=SHARE_SOURCE)).values()

    _assert_reconciles(tally)
    assert tally.published == 1
    assert tally.reasons == Counter({"resource_not_shareable": 1})
    assert state.entry.reasons[0].value == "RES-4"
    assert state.entry.family == "share"


async def test_withdrawn_resource_refused(
    settings: Settings, profile: FamilyProfile, tmp_path: Path
) -> None:
    rows = [
        _resource("RES-5"),
        share_row("resource_withdrawn", "2024-03-01 12:00:00", resource="RES-5"),
        _request("Q5", "RES-5"),
    ]

    tally = await ingest_files(settings, profile, [write_rows(tmp_path / "s.csv", rows)])

    assert tally.reasons == Counter({"resource_not_shareable": 1})


# Conditional sharing needs an approval ----------------------------------------


async def test_conditional_delivery_without_approval_refused(
    settings: Settings, profile: FamilyProfile, tmp_path: Path
) -> None:
    rows = [
        _resource("RES-6", "conditional"),
        _request("Q6", "RES-6"),
        share_row("request_delivered", "2024-03-03 09:00:00", request="Q6"),
    ]

    tally = await ingest_files(settings, profile, [write_rows(tmp_path / "s.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 2
    assert tally.reasons == Counter({"approval_required": 1})


async def test_conditional_delivery_after_approval_published(
    settings: Settings, profile: FamilyProfile, tmp_path: Path
) -> None:
    rows = [
        _resource("RES-7", "conditional"),
        _request("Q7", "RES-7"),
        share_row("request_approved", "2024-03-02 15:00:00", request="Q7"),
        share_row("request_delivered", "2024-03-03 09:00:00", request="Q7"),
    ]

    tally = await ingest_files(settings, profile, [write_rows(tmp_path / "s.csv", rows)])

    _assert_reconciles(tally)
    assert tally.published == 4
    assert tally.quarantined == 0


async def test_changed_share_type_applies_to_later_delivery(
    settings: Settings, profile: FamilyProfile, tmp_path: Path
) -> None:
    rows = [
        _resource("RES-8"),
        share_row(
            "resource_changed",
            "2024-03-01 12:00:00",
            resource="RES-8",
            share_type=SHARE_TYPES["conditional"],
        ),
        _request("Q8", "RES-8"),
        share_row("request_delivered", "2024-03-03 09:00:00", request="Q8"),
    ]

    tally = await ingest_files(settings, profile, [write_rows(tmp_path / "s.csv", rows)])

    assert tally.reasons == Counter({"approval_required": 1})


# Objections need a delivery ---------------------------------------------------


def _objection(objection_id: str, resource: str) -> dict[str, str]:
    return share_row(
        "objection_raised",
        "2024-03-04 09:00:00",
        objection=objection_id,
        resource=resource,
        request="",
        disputed="511602199001011234",
        field="出生日期",
        claimed="1990-01-02",
    )


async def test_objection_on_undelivered_resource_parked(
    settings: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    _client, js = bus
    rows = [_resource("RES-9"), _request("Q9", "RES-9"), _objection("O9", "RES-9")]
    first = await ingest_files(settings, profile, [write_rows(tmp_path / "s1.csv", rows)])

    assert (first.published, first.parked) == (2, 1)
    assert len(await _parked_keys(js)) == 1

    delivered = [share_row("request_delivered", "2024-03-03 09:00:00", request="Q9")]
    second = await ingest_files(settings, profile, [write_rows(tmp_path / "s2.csv", delivered)])
    events = await _events(js)
    objection = events[-1][1]

    _assert_reconciles(second)
    assert second.published == 1
    assert second.released == 1
    assert objection.type == "share.objection_raised"
    assert objection.correlation_id == "RES-9"
    assert isinstance(objection.payload, ObjectionRaised)
    assert objection.payload.record_key == "511602199001011234"
    assert await _parked_keys(js) == []


# Re-sends ---------------------------------------------------------------------


async def test_share_reread_publishes_nothing(
    settings: Settings, profile: FamilyProfile, tmp_path: Path, bus: Bus
) -> None:
    """The approval listed below its later delivery still counts; Q12 has no approval at all."""
    _client, js = bus
    rows = [
        _resource("RES-10", "conditional"),
        _request("Q10", "RES-10"),
        share_row("request_delivered", "2024-03-03 09:00:00", request="Q10"),
        _request("Q11", "RES-11"),
        share_row("request_approved", "2024-03-02 15:00:00", request="Q10"),
        _objection("O10", "RES-10"),
        _request("Q12", "RES-10"),
        share_row("request_delivered", "2024-03-03 10:00:00", request="Q12"),
    ]
    path = write_rows(tmp_path / "s.csv", rows)
    first = await ingest_files(settings, profile, [path])
    count = len(await _events(js))

    again = await ingest_files(settings, profile, [path], reread=True)

    _assert_reconciles(first)
    _assert_reconciles(again)
    assert (first.published, first.quarantined, first.parked) == (6, 1, 1)
    assert first.reasons == Counter({"approval_required": 1})
    assert again.published == 0
    assert again.duplicates == 6
    assert again.quarantined == 1
    assert again.parked == 1
    assert len(await _events(js)) == count


# The command ------------------------------------------------------------------


def test_ingest_command_reconciles_sharing_file(
    nats_server: server.ServerInfo, tmp_path: Path
) -> None:
    """``zwbus ingest`` takes a sharing profile and prints the summary and its reconciliation."""
    profile_path = write_text(tmp_path / "share.toml", SHARE_PROFILE)
    export = write_rows(
        tmp_path / "s.csv",
        [_resource("RES-20", "none"), _request("Q20", "RES-20"), _request("Q21", "RES-21")],
    )
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ZWBUS_") and key not in {"LANG", "LANGUAGE", "LC_ALL"}
    }
    environment["COLUMNS"] = "200"
    common = [str(ZWBUS), "--lang", "en", "--nats-url", nats_server.url]
    common += ["--data-dir", str(tmp_path / "data")]

    ingest = subprocess.run(
        [*common, "ingest", "--profile", str(profile_path), str(export)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    parked = subprocess.run(
        [*common, "parked", "list"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )

    assert ingest.returncode == 0, ingest.stderr
    assert (
        "Reconciliation: read 3 = published 1 + duplicates 0 + quarantined 1 + parked 1 (adds up)"
        in ingest.stdout
    )
    assert "resource_not_shareable" in ingest.stdout
    assert parked.returncode == 0, parked.stderr
    assert "share.request_submitted" in parked.stdout
    assert "1 of 1 parked events shown" in parked.stdout

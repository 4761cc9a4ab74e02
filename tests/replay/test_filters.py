"""Region, key and type filters, upcasting of old versions, and undecodable messages."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from bus.errors import ConfigError
from bus.streams import CASES, ITEMS
from contracts.envelope import UPCASTERS, encode_event
from contracts.subjects import hall_subject
from replay.exporters import export_events
from replay.filters import UndecodableMessageError, select
from replay.reader import ReplayWindow
from tests.projections.helpers import at, case_event, publish, publish_raw, subject_of
from tests.replay import CITY_REGION, Bus, CollectingExporter, flow, replay_all


def test_select_defaults_to_cases() -> None:
    selection = select()

    assert selection.stream == CASES
    assert selection.family == "case"
    assert selection.subject is None
    assert selection.types == frozenset()


@pytest.mark.parametrize(
    ("region", "key", "subject"),
    [
        ("51", None, "zw.case.51.>"),
        ("5116", None, "zw.case.51.16.>"),
        ("511602", None, "zw.case.51.16.02.>"),
        (None, "C1", "zw.case.*.*.*.C1"),
        ("5116", "C1", "zw.case.51.16.*.C1"),
        ("511602", "办件 1", "zw.case.51.16.02.~E5~8A~9E~E4~BB~B6~201"),
    ],
)
def test_select_builds_subject_filter(region: str | None, key: str | None, subject: str) -> None:
    assert select(region=region, key=key).subject == subject


def subject_matches(pattern: str | None, subject: str) -> bool:
    """Match a subject against a NATS filter with ``*`` and ``>`` wildcards."""
    assert pattern is not None
    wanted, tokens = pattern.split("."), subject.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or token not in ("*", tokens[index]):
            return False
    return len(tokens) == len(wanted)


def test_hall_key_skips_hall_token() -> None:
    selection = select(family="hall", region="511602", key="YY2026082700036")

    assert selection.subject == "zw.hall.51.16.02.*.YY2026082700036"
    assert subject_matches(
        selection.subject, hall_subject("511602", "5116020001", "YY2026082700036")
    )


def test_select_family_picks_stream() -> None:
    selection = select(family="item", region="51")

    assert selection.stream == ITEMS
    assert selection.subject == "zw.item.51.>"


def test_select_expands_short_type_names() -> None:
    selection = select(types=["accepted", "case.concluded"])

    assert selection.types == frozenset({"case.accepted", "case.concluded"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"region": "5116021"}, "give 2 digits"),
        ({"region": "51a"}, "give 2 digits"),
        ({"types": ["approved"]}, "Unknown event type 'approved'"),
        ({"family": "nope"}, "Unknown event family 'nope'"),
        ({"family": "item", "stream": CASES}, "Family item is not carried by stream ZW_CASES"),
        ({"stream": "ZW_QUARANTINE", "region": "51"}, "cannot filter it"),
        ({"key": ""}, "--key must not be empty"),
    ],
)
def test_select_rejects_bad_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        select(**options)


async def test_region_filter_selects_subtree(bus: Bus) -> None:
    client, js = bus
    county = flow("C1")
    other_county = flow("C2", region=CITY_REGION)
    other_city = flow("C3", region="510104")
    await publish(client, [*county, *other_county, *other_city])

    by_county, _ = await replay_all(js, selection=select(region="511602"))
    by_city, _ = await replay_all(js, selection=select(region="5116"))
    by_province, _ = await replay_all(js, selection=select(region="51"))

    assert by_county.ids == [event.id for event in county]
    assert by_city.ids == [event.id for event in [*county, *other_county]]
    assert len(by_province.ids) == 9


async def test_key_and_type_filters(bus: Bus) -> None:
    client, js = bus
    first, second = flow("C1"), flow("C2")
    await publish(client, [*first, *second])

    by_key, key_result = await replay_all(js, selection=select(key="C2"))
    by_type, type_result = await replay_all(js, selection=select(types=["accepted", "concluded"]))
    both, _ = await replay_all(js, selection=select(key="C1", types=["case.submitted"]))

    assert by_key.ids == [event.id for event in second]
    assert key_result.counts.read == 3
    assert by_type.ids == [first[1].id, first[2].id, second[1].id, second[2].id]
    assert type_result.counts.filtered == 2
    assert both.ids == [first[0].id]


async def test_key_with_reserved_characters(bus: Bus) -> None:
    client, js = bus
    odd = case_event("submitted", "GA.2026 *01", at("2026-10-12"))
    await publish(client, [odd, *flow("C1")])

    exporter, _ = await replay_all(js, selection=select(key="GA.2026 *01"))

    assert exporter.ids == [odd.id]


def _old_accepted(event_bytes: bytes) -> dict[str, Any]:
    """Rewrite a current case.accepted as the hypothetical version 0 with ``promise_days``."""
    raw: dict[str, Any] = msgspec.json.decode(event_bytes)
    payload = dict(raw["payload"])
    payload["promise_days"] = payload.pop("promised_days")
    return {**raw, "version": 0, "payload": payload}


def _upcast_accepted_v0(raw: dict[str, Any]) -> dict[str, Any]:
    payload = dict(raw["payload"])
    payload["promised_days"] = payload.pop("promise_days")
    return {**raw, "version": 1, "payload": payload}


async def test_old_version_goes_through_upcaster(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    _client, js = bus
    event = case_event("accepted", "C1", at("2026-10-12"), promised_days=7)
    old = msgspec.json.encode(_old_accepted(encode_event(event)))
    await publish_raw(js, subject_of(event), old, event.id)

    without, without_result = await replay_all(js)
    monkeypatch.setitem(UPCASTERS, ("case.accepted", 0), _upcast_accepted_v0)
    upcast, upcast_result = await replay_all(js)

    assert without.events == []
    assert without_result.counts.undecodable == 1
    assert "no upcaster from case.accepted version 0" in (
        without_result.counts.undecodable_samples[0].reason
    )
    assert upcast_result.counts.undecodable == 0
    assert [item.event for item in upcast.events] == [event]
    assert upcast.events[0].event.version == 1


async def test_undecodable_counted_not_dropped(bus: Bus) -> None:
    client, js = bus
    events = flow("C1")
    await publish(client, events[:1])
    bad_seq = await publish_raw(js, "zw.case.51.16.02.C1", b"{not json", "bad-1")
    await publish(client, events[1:])

    exporter, result = await replay_all(js)

    assert exporter.ids == [event.id for event in events]
    assert result.counts.read == 4
    assert result.counts.undecodable == 1
    [sample] = result.counts.undecodable_samples
    assert sample.seq == bad_seq
    assert sample.subject == "zw.case.51.16.02.C1"
    assert "not a JSON object" in sample.reason


async def test_strict_fails_naming_sequence(bus: Bus) -> None:
    client, js = bus
    await publish(client, flow("C1")[:1])
    bad_seq = await publish_raw(js, "zw.case.51.16.02.C1", b"[]", "bad-1")

    with pytest.raises(UndecodableMessageError) as caught:
        await replay_all(js, strict=True)

    assert caught.value.facts["seq"] == bad_seq
    assert f"Message {bad_seq} on subject zw.case.51.16.02.C1" in str(caught.value)
    assert (await js.stream_info(CASES)).state.consumer_count == 0


async def test_filters_combine_with_window(bus: Bus) -> None:
    client, js = bus
    await publish(client, [*flow("C1"), *flow("C2"), *flow("C1", day="2026-10-13")])

    exporter, _ = await replay_all(js, ReplayWindow(from_seq=2, to_seq=8), select(key="C1"))

    assert [item.seq for item in exporter.events] == [2, 3, 7, 8]


class RawCollectingExporter(CollectingExporter):
    """A collecting exporter that, like JSON Lines, copies raw envelopes."""

    copies_envelopes = True


async def test_type_filter_without_payload_decode(bus: Bus) -> None:
    """JSON Lines filters current-version events by their head; the kept ones decode on access."""
    client, js = bus
    first = flow("C1")
    await publish(client, first)
    exporter = RawCollectingExporter()

    result = await export_events(
        js, select(types=["accepted"]), ReplayWindow(), exporter, batch_size=2
    )

    assert [item.raw is not None for item in exporter.events] == [True]
    assert exporter.ids == [first[1].id]
    assert result.counts.read == 3
    assert result.counts.filtered == 2


async def test_strict_decodes_payloads_for_copying_exporter(bus: Bus) -> None:
    client, js = bus
    event = case_event("accepted", "C1", at("2026-10-12"), promised_days=3)
    broken = msgspec.json.decode(encode_event(event))
    broken["payload"]["promised_days"] = "three"
    await publish(client, flow("C2"))
    bad_seq = await publish_raw(js, subject_of(event), msgspec.json.encode(broken), event.id)

    lenient = await export_events(js, select(), ReplayWindow(), RawCollectingExporter())
    with pytest.raises(UndecodableMessageError) as raised:
        await export_events(js, select(), ReplayWindow(), RawCollectingExporter(), strict=True)

    assert lenient.counts.kept == 4
    assert lenient.counts.undecodable == 0
    assert raised.value.facts["seq"] == bad_seq

"""HTTP sinks against a real nats-server and a real aiohttp endpoint on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.sinks.config import load_sinks_config
from adapters.sinks.deadletter import count_dead_letters, read_dead_letters
from adapters.sinks.http_target import backoff_delay_s, display_url
from adapters.sinks.runner import run_sinks
from bus.heartbeat import latest_heartbeats
from bus.settings import Settings
from tests.adapters.sinks.helpers import (
    WAIT_S,
    Receiver,
    case,
    http_sink,
    publish,
    run_once,
    write_config,
)

Bus = tuple[Client, JetStreamContext]


async def test_batches_carry_keys_of_their_events(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    published = await publish(client, [case(f"H{n}") for n in range(25)])
    async with Receiver() as receiver:
        config = write_config(tmp_path / "sinks.toml", http_sink("city", receiver.url))

        summaries = await run_once(settings, config)

    assert receiver.accepted == [message.id for message in published]
    assert [len(request.body_ids) for request in receiver.requests] == [10, 10, 5]
    assert all(request.keys == request.body_ids for request in receiver.requests)
    assert summaries[0].delivered == 25
    assert summaries[0].failed_attempts == 0


async def test_transient_failures_retried(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, js = bus
    published = await publish(client, [case(f"T{n}") for n in range(5)])
    async with Receiver(fail_first=2) as receiver:
        config = write_config(tmp_path / "sinks.toml", http_sink("city", receiver.url))

        summaries = await run_once(settings, config)

    assert [request.status for request in receiver.requests] == [503, 503, 200]
    assert receiver.accepted == [message.id for message in published]
    assert summaries[0].failed_attempts == 2
    assert summaries[0].dead_letters == 0
    assert await count_dead_letters(js, "city") == 0


async def test_rejected_event_dead_lettered(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, js = bus
    published = await publish(client, [case(f"R{n}") for n in range(6)])
    rejected = published[2]
    async with Receiver(reject_ids={rejected.id}) as receiver:
        config = write_config(
            tmp_path / "sinks.toml", http_sink("city", receiver.url, max_attempts=4)
        )

        summaries = await run_once(settings, config)

    letters = await read_dead_letters(js, "city")
    tried = [request for request in receiver.requests if rejected.id in request.body_ids]
    assert receiver.accepted == [message.id for message in published if message is not rejected]
    assert len(tried) == 4
    assert len(letters) == 1
    assert letters[0].event_id == rejected.id
    assert letters[0].attempts == 4
    assert letters[0].http_status == 422
    assert letters[0].seq == 3
    assert letters[0].data.encode() == rejected.data
    assert summaries[0].dead_letters == 1
    assert summaries[0].delivered == 5
    assert await count_dead_letters(js, "city") == 1


async def test_endpoint_down_dead_letters_batch(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, js = bus
    published = await publish(client, [case(f"X{n}") for n in range(3)])
    async with Receiver(fail_all=True) as receiver:
        config = write_config(
            tmp_path / "sinks.toml", http_sink("city", receiver.url, max_attempts=3)
        )

        summaries = await run_once(settings, config)

    letters = await read_dead_letters(js, "city")
    assert len(receiver.requests) == 3
    assert [letter.event_id for letter in letters] == [message.id for message in published]
    assert {letter.http_status for letter in letters} == {503}
    assert summaries[0].dead_letters == 3
    assert summaries[0].delivered == 0


async def test_undecodable_message_dead_lettered(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, js = bus
    await js.publish("zw.case.51.16.02.BROKEN", b"not json", headers={"Nats-Msg-Id": "broken"})
    good = await publish(client, [case("G1")])
    async with Receiver() as receiver:
        config = write_config(tmp_path / "sinks.toml", http_sink("city", receiver.url))

        await run_once(settings, config)

    letters = await read_dead_letters(js, "city")
    assert receiver.accepted == [good[0].id]
    assert len(letters) == 1
    assert letters[0].event_id is None
    assert letters[0].attempts == 0
    assert letters[0].data == "not json"
    assert letters[0].error.startswith("not an event envelope")


async def test_restart_resumes_without_repeats(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    first = await publish(client, [case(f"A{n}") for n in range(12)])
    async with Receiver() as receiver:
        config = write_config(tmp_path / "sinks.toml", http_sink("city", receiver.url))
        await run_once(settings, config)
        second = await publish(client, [case(f"B{n}") for n in range(7)])

        summaries = await run_once(settings, config)

    assert receiver.accepted == [message.id for message in first + second]
    assert summaries[0].delivered == 7


async def test_stop_during_backoff_leaves_rest(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    published = await publish(client, [case(f"W{n}") for n in range(4)])
    stop = asyncio.Event()
    async with Receiver(fail_all=True) as failing:
        text = http_sink("city", failing.url, max_attempts=50).replace(
            "max_s = 0.05", "max_s = 30.0"
        ).replace("initial_s = 0.01", "initial_s = 30.0")
        config = load_sinks_config(write_config(tmp_path / "sinks.toml", text))
        running = asyncio.create_task(run_sinks(settings, config, stop))
        await failing.wait_requests(1)
        stop.set()
        summaries = await asyncio.wait_for(running, WAIT_S)
    async with Receiver() as working:
        working_config = write_config(tmp_path / "sinks.toml", http_sink("city", working.url))

        await run_once(settings, working_config)

    assert len(failing.requests) == 1
    assert summaries[0].delivered == 0
    assert summaries[0].dead_letters == 0
    assert working.accepted == [message.id for message in published]


async def test_heartbeat_carries_counters(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, js = bus
    await publish(client, [case(f"K{n}") for n in range(3)])
    async with Receiver() as receiver:
        config = write_config(tmp_path / "sinks.toml", http_sink("city", receiver.url))

        await run_once(settings, config)

    beats = [beat for beat in await latest_heartbeats(js) if beat.kind == "sink"]
    assert len(beats) == 1
    assert beats[0].name == "city"
    assert beats[0].state == "stopped"
    assert beats[0].counters["delivered"] == 3
    assert beats[0].last_record_at is not None


def test_backoff_grows_and_stays_bounded(tmp_path: Path) -> None:
    text = http_sink("city", "http://127.0.0.1:9/events").replace("max_s = 0.05", "max_s = 0.08")
    sink = load_sinks_config(write_config(tmp_path / "sinks.toml", text)).sinks[0]

    delays = [backoff_delay_s(sink, failures, None) for failures in range(1, 8)]

    assert 0.005 <= delays[0] <= 0.01
    assert 0.01 <= delays[1] <= 0.02
    assert all(0.04 <= delay <= 0.08 for delay in delays[4:])
    assert backoff_delay_s(sink, 1, 60.0) == 0.08


def test_display_url_hides_credentials() -> None:
    shown = display_url("https://user:secret@city.example/in?token=abc")

    assert shown == "https://city.example/in"

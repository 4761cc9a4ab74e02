"""Publishing: ``bus.publisher.Publisher`` against nats-py's ``js.publish_async``.

Both sides publish the same ~1.1 KB case events, one subject per case and a
``Nats-Msg-Id`` header each, into a fresh server of their own, and wait for
every acknowledgement. The clock stops when the last one has arrived.
"""

from __future__ import annotations

from pathlib import Path

from nats.js import api

from bench.harness import (
    AckChecker,
    Meter,
    RunMeasurement,
    Scenario,
    Side,
    connected,
    fresh_server,
    in_turn,
    require_stored,
)
from bench.scenarios._events import Event, case_events
from bus.publisher import Publisher


def _check_baseline(ack: api.PubAck) -> None:
    if ack.duplicate:
        raise RuntimeError(f"publish_async stored a duplicate: {ack}")


async def _ours(folder: Path, events: list[Event]) -> Side:
    async with fresh_server(folder, "ours") as info, connected(info.url) as (client, _js):
        async with Publisher(client) as publisher:
            checker = AckChecker(require_stored)
            with Meter(info.pid) as meter:
                for subject, data, msg_id in events:
                    await checker.add(
                        await publisher.publish(subject, data, {"Nats-Msg-Id": msg_id})
                    )
                checked = await checker.finish()
        return meter.side(checked)


async def _baseline(folder: Path, events: list[Event]) -> Side:
    async with fresh_server(folder, "baseline") as info, connected(info.url) as (_client, js):
        checker = AckChecker(_check_baseline)
        with Meter(info.pid) as meter:
            for subject, data, msg_id in events:
                await checker.add(
                    await js.publish_async(subject, data, headers={"Nats-Msg-Id": msg_id})
                )
            checked = await checker.finish()
        return meter.side(checked)


async def measure(run: int, folder: Path, count: int) -> RunMeasurement:
    """Publish ``count`` events through each side into its own fresh server."""
    events = case_events(count, run)
    sides: dict[str, Side] = {}

    async def ours() -> None:
        sides["ours"] = await _ours(folder, events)

    async def baseline() -> None:
        sides["baseline"] = await _baseline(folder, events)

    await in_turn(run, ours, baseline)
    return RunMeasurement(baseline=sides["baseline"], ours={"windowed": sides["ours"]})


SCENARIO = Scenario(
    name="publish",
    description="windowed publisher vs js.publish_async, same events",
    baseline="nats-py js.publish_async",
    variants={"windowed": "bus.publisher.Publisher"},
    full_events=200_000,
    quick_events=50_000,
    target=1.5,
    measure=measure,
)

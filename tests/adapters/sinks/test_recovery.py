"""Crash recovery of `zwbus sinks run`: injected crashes, kill -9 and SIGTERM, then a restart.

After every restart a file sink contains each event exactly once, in
stream order, and an HTTP receiver has every event. The receiver sees
repeats only of the batch in flight at the crash, each with its key.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
from pathlib import Path

from nats.aio.client import Client
from nats.js import JetStreamContext

from adapters.sinks.faults import EXIT_CODE
from bus.settings import Settings
from tests.adapters.sinks.helpers import (
    WAIT_S,
    Published,
    Receiver,
    case,
    file_sink,
    http_sink,
    jsonl_ids,
    publish,
    write_config,
    zwbus,
    zwbus_command,
    zwbus_environment,
)
from tests.projections.helpers import wait_for

Bus = tuple[Client, JetStreamContext]
BATCH = 10


async def _start_following(
    settings: Settings, config: Path, log: Path
) -> asyncio.subprocess.Process:
    with log.open("w") as stderr:
        return await asyncio.create_subprocess_exec(
            *zwbus_command(settings, "sinks", "run", str(config)),
            env=zwbus_environment(),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )


async def _stop(process: asyncio.subprocess.Process, number: signal.Signals) -> int:
    try:
        process.send_signal(number)
        return await asyncio.wait_for(process.wait(), WAIT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def _record(folder: Path, sink: str = "county") -> dict[str, object]:
    path = folder / f".{sink}.case.position.json"
    if not path.exists():
        return {}
    record: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return record


async def _wait_for_record(folder: Path, minimum_seq: int) -> None:
    def reached() -> bool:
        return int(str(_record(folder).get("last_seq", 0))) >= minimum_seq

    assert await asyncio.to_thread(wait_for, reached, WAIT_S)


def _ids(messages: list[Published]) -> list[str]:
    return [message.id for message in messages]


async def test_file_crash_before_record_cut_on_restart(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    published = await publish(client, [case(f"F{n:03d}") for n in range(45)])
    out = tmp_path / "out"
    config = write_config(tmp_path / "sinks.toml", file_sink("county", out, batch_size=BATCH))

    crashed = await zwbus(
        settings, "sinks", "run", str(config), "--until-caught-up", fault="after_deliver:2"
    )
    record = _record(out)
    (path,) = sorted(out.glob("*.jsonl"))
    size_after_crash = path.stat().st_size
    restarted = await zwbus(settings, "sinks", "run", str(config), "--until-caught-up")

    assert crashed[0] == EXIT_CODE, crashed[2]
    assert "fault_injected" in crashed[2]
    assert record["last_seq"] == BATCH
    assert size_after_crash > int(str(record["offset"]))
    assert restarted[0] == 0, restarted[2]
    assert "sink_file_truncated" in restarted[2]
    assert "delivered 35," in restarted[1]
    assert jsonl_ids(out) == _ids(published)


async def test_file_crash_before_ack_no_repeat(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    published = await publish(client, [case(f"G{n:03d}") for n in range(30)])
    out = tmp_path / "out"
    config = write_config(tmp_path / "sinks.toml", file_sink("county", out, batch_size=BATCH))

    crashed = await zwbus(
        settings, "sinks", "run", str(config), "--until-caught-up", fault="after_save:1"
    )
    restarted = await zwbus(settings, "sinks", "run", str(config), "--until-caught-up")

    assert crashed[0] == EXIT_CODE, crashed[2]
    assert restarted[0] == 0, restarted[2]
    assert "delivered 20," in restarted[1]
    assert jsonl_ids(out) == _ids(published)


async def test_http_crash_after_post_repeats_batch(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    published = await publish(client, [case(f"H{n:03d}") for n in range(35)])
    async with Receiver() as receiver:
        config = write_config(
            tmp_path / "sinks.toml", http_sink("county", receiver.url, batch_size=BATCH)
        )

        crashed = await zwbus(
            settings, "sinks", "run", str(config), "--until-caught-up", fault="after_deliver:2"
        )
        restarted = await zwbus(settings, "sinks", "run", str(config), "--until-caught-up")

    assert crashed[0] == EXIT_CODE, crashed[2]
    assert restarted[0] == 0, restarted[2]
    assert receiver.distinct == set(_ids(published))
    assert set(receiver.repeats) == set(_ids(published[BATCH : 2 * BATCH]))
    assert set(receiver.repeats.values()) == {1}
    assert all(request.keys == request.body_ids for request in receiver.requests)


async def test_file_kill_9_exact_lines(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    client, _js = bus
    out = tmp_path / "out"
    config = write_config(
        tmp_path / "sinks.toml",
        file_sink("county", out, batch_size=BATCH, rotation={"max_bytes": 8192}),
    )
    published = await publish(client, [case(f"K{n:04d}") for n in range(60)])
    process = await _start_following(settings, config, tmp_path / "follow.log")

    try:
        await _wait_for_record(out, BATCH)
        for chunk in range(8):
            published += await publish(client, [case(f"L{chunk}-{n:02d}") for n in range(25)])
            if rng.random() < 0.3:
                break
    finally:
        exit_code = await _stop(process, signal.SIGKILL)
    published += await publish(client, [case(f"M{n:02d}") for n in range(15)])
    restarted = await zwbus(settings, "sinks", "run", str(config), "--until-caught-up")

    assert exit_code == -signal.SIGKILL, f"seed {seed}"
    assert restarted[0] == 0, f"seed {seed}: {restarted[2]}"
    assert jsonl_ids(out) == _ids(published), f"seed {seed}"


async def test_http_kill_9_no_loss(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    client, _js = bus
    published = await publish(client, [case(f"N{n:04d}") for n in range(40)])
    async with Receiver() as receiver:
        config = write_config(
            tmp_path / "sinks.toml", http_sink("county", receiver.url, batch_size=BATCH)
        )
        process = await _start_following(settings, config, tmp_path / "follow.log")
        try:
            await receiver.wait_accepted(BATCH)
            for chunk in range(8):
                published += await publish(client, [case(f"O{chunk}-{n:02d}") for n in range(25)])
                if rng.random() < 0.3:
                    break
        finally:
            exit_code = await _stop(process, signal.SIGKILL)
        published += await publish(client, [case(f"P{n:02d}") for n in range(15)])

        restarted = await zwbus(settings, "sinks", "run", str(config), "--until-caught-up")

    assert exit_code == -signal.SIGKILL, f"seed {seed}"
    assert restarted[0] == 0, f"seed {seed}: {restarted[2]}"
    assert receiver.distinct == set(_ids(published)), f"seed {seed}"
    assert sum(receiver.repeats.values()) <= BATCH, f"seed {seed}"
    assert all(request.keys == request.body_ids for request in receiver.requests)


async def test_sigterm_stops_cleanly_no_repeat(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    published = await publish(client, [case(f"Q{n:03d}") for n in range(30)])
    async with Receiver() as receiver:
        config = write_config(
            tmp_path / "sinks.toml", http_sink("county", receiver.url, batch_size=BATCH)
        )
        process = await _start_following(settings, config, tmp_path / "follow.log")
        try:
            await receiver.wait_accepted(len(published))
        finally:
            exit_code = await _stop(process, signal.SIGTERM)
        summary = (await process.stdout.read()).decode() if process.stdout else ""
        published += await publish(client, [case(f"R{n:02d}") for n in range(5)])

        restarted = await zwbus(settings, "sinks", "run", str(config), "--until-caught-up")

    assert exit_code == 0, (tmp_path / "follow.log").read_text()
    assert "Sink county: delivered 30," in summary
    assert restarted[0] == 0, restarted[2]
    assert "delivered 5," in restarted[1]
    assert receiver.accepted == _ids(published)

"""The `zwbus sinks` commands as a user runs them: run, status, dead-letters, errors."""

from __future__ import annotations

import json
from pathlib import Path

from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.settings import Settings
from tests.adapters.sinks.helpers import (
    POLICE,
    Receiver,
    case,
    file_sink,
    http_sink,
    jsonl_ids,
    publish,
    run_once,
    write_config,
    zwbus,
)

Bus = tuple[Client, JetStreamContext]


async def test_run_until_caught_up_prints_summary(
    bus: Bus, settings: Settings, tmp_path: Path
) -> None:
    client, _js = bus
    published = await publish(client, [case("C1"), case("C2"), case("C3", department="other")])
    config = write_config(
        tmp_path / "sinks.toml",
        file_sink("county", tmp_path / "out", filter={"departments": [POLICE]}),
    )

    code, stdout, stderr = await zwbus(
        settings, "sinks", "run", str(config), "--until-caught-up"
    )

    assert code == 0, stderr
    assert "Running sinks county; stop with Ctrl-C or SIGTERM." in stderr
    assert (
        "Sink county: delivered 2, filtered out 1, dead letters 0, failed attempts 0, "
        "skipped redeliveries 0." in stdout
    )
    assert jsonl_ids(tmp_path / "out") == [published[0].id, published[1].id]


async def test_status_lists_each_sink(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, _js = bus
    published = await publish(client, [case(f"S{n}") for n in range(4)])
    async with Receiver(reject_ids={published[1].id}) as receiver:
        text = (
            http_sink("city", receiver.url, max_attempts=2)
            + file_sink("county", tmp_path / "out")
            + file_sink("idle", tmp_path / "idle")
        )
        config = write_config(tmp_path / "sinks.toml", text)
        await run_once(settings, config, "city", "county")

        code, stdout, stderr = await zwbus(settings, "sinks", "status", str(config))
        json_code, json_out, _ = await zwbus(settings, "sinks", "status", str(config), "--json")

    rows = {line.split()[1]: line.split() for line in stdout.splitlines() if "│" in line}
    statuses = {status["sink"]: status for status in json.loads(json_out)}
    assert code == 0, stderr
    assert json_code == 0
    assert rows["city"][3:10:2] == ["http", "3", "0", "1"]
    assert rows["county"][3:10:2] == ["file", "4", "0", "0"]
    assert "not started" in " ".join(rows["idle"])
    assert "never" in " ".join(rows["idle"])
    assert statuses["city"]["delivered"] == 3
    assert statuses["city"]["dead_letters"] == 1
    assert statuses["county"]["pending"] == 0
    assert statuses["idle"]["pending"] is None
    assert statuses["county"]["lanes"][0]["recorded_seq"] == 4


async def test_dead_letters_listed(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, _js = bus
    published = await publish(client, [case("D1"), case("D2")])
    async with Receiver(reject_ids={published[0].id}) as receiver:
        config = write_config(
            tmp_path / "sinks.toml", http_sink("city", receiver.url, max_attempts=2)
        )
        await run_once(settings, config)

    code, stdout, stderr = await zwbus(settings, "sinks", "dead-letters", "city")
    json_code, json_out, _ = await zwbus(settings, "sinks", "dead-letters", "city", "--json")
    other_code, other_out, _ = await zwbus(settings, "sinks", "dead-letters", "county")

    letters = json.loads(json_out)
    assert code == 0, stderr
    assert published[0].id in stdout
    assert "HTTP 422" in stdout
    assert "1 of 1 dead letters of sink city shown." in stdout
    assert json_code == 0
    assert [letter["event_id"] for letter in letters] == [published[0].id]
    assert letters[0]["attempts"] == 2
    assert other_code == 0
    assert "0 of 0 dead letters of sink county shown." in other_out


async def test_invalid_config_exits_with_fix(settings: Settings, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "sinks.toml", file_sink("county", tmp_path / "out", batch_size=5000)
    )

    code, _stdout, stderr = await zwbus(settings, "sinks", "run", str(config))

    assert code == 1
    assert "batch_size = 5000 is invalid. Use 1 to 1000 events." in stderr


async def test_unknown_sink_option_rejected(settings: Settings, tmp_path: Path) -> None:
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))

    code, _stdout, stderr = await zwbus(settings, "sinks", "run", str(config), "--sink", "town")

    assert code == 1
    assert "Sink 'town' is not in" in stderr


async def test_status_in_chinese(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    config = write_config(tmp_path / "sinks.toml", file_sink("county", tmp_path / "out"))

    code, stdout, stderr = await zwbus(settings, "sinks", "status", str(config), lang="zh_CN")

    assert code == 0, stderr
    assert "返还通道" in stdout
    assert "未启动" in stdout

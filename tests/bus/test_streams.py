"""Tests of the stream declaration: idempotent apply, drift, and protected history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nats.js.errors
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

from bus.errors import StreamError
from bus.publisher import Publisher
from bus.server import ServerInfo
from bus.streams import CASES, DECLARED, ITEMS, OPS, apply, plan

Bus = tuple[Client, JetStreamContext]
ZWBUS = Path(sys.executable).parent / "zwbus"
DOMAIN_STREAMS = [
    str(config.name) for config in DECLARED if config.deny_purge and config.deny_delete
]


def _zwbus(url: str, data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZWBUS_")}
    environment["COLUMNS"] = "200"
    return subprocess.run(
        [str(ZWBUS), "--lang", "en", "--nats-url", url, "--data-dir", str(data_dir), *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


def test_streams_apply_twice_unchanged(nats_server: ServerInfo, tmp_path: Path) -> None:
    first = _zwbus(nats_server.url, tmp_path, "streams", "apply")

    assert first.returncode == 0, first.stderr
    assert first.stdout.count("create") == len(DECLARED)
    assert f"Applied {len(DECLARED)} change(s)." in first.stdout

    second = _zwbus(nats_server.url, tmp_path, "streams", "apply")

    assert second.returncode == 0, second.stderr
    assert second.stdout.count("unchanged") == len(DECLARED)
    assert "create" not in second.stdout
    assert "update" not in second.stdout
    assert "Applied 0 change(s)." in second.stdout
    for config in DECLARED:
        assert str(config.name) in second.stdout


def test_streams_dry_run_applies_nothing(nats_server: ServerInfo, tmp_path: Path) -> None:
    dry = _zwbus(nats_server.url, tmp_path, "streams", "apply", "--dry-run")
    real = _zwbus(nats_server.url, tmp_path, "streams", "apply")

    assert dry.returncode == 0, dry.stderr
    assert f"Dry run: {len(DECLARED)} change(s) not applied." in dry.stdout
    assert f"Applied {len(DECLARED)} change(s)." in real.stdout


async def test_plan_after_apply_all_unchanged(bus: Bus) -> None:
    _client, js = bus

    changes = await plan(js)

    assert [change.stream for change in changes] == [str(c.name) for c in DECLARED]
    assert {change.action for change in changes} == {"unchanged"}


async def test_drifted_description_updated(bus: Bus) -> None:
    _client, js = bus
    info = await js.stream_info(OPS)
    info.config.description = "changed by hand"
    await js.update_stream(config=info.config)

    changes = {change.stream: change for change in await plan(js)}

    assert changes[OPS].action == "update"
    assert [item.field for item in changes[OPS].differences] == ["description"]

    await apply(js, changes.values())

    assert {change.action for change in await plan(js)} == {"unchanged"}


async def test_storage_change_is_conflict(bus: Bus) -> None:
    _client, js = bus
    await js.delete_stream(OPS)
    await js.add_stream(
        config=StreamConfig(name=OPS, subjects=["zw.ops.>"], storage=StorageType.MEMORY)
    )

    changes = {change.stream: change for change in await plan(js)}

    assert changes[OPS].action == "conflict"
    with pytest.raises(StreamError, match=f"Stream {OPS} differs in .*storage"):
        await apply(js, changes.values())


def test_domain_streams_declared_protected() -> None:
    assert CASES in DOMAIN_STREAMS
    assert ITEMS in DOMAIN_STREAMS
    assert len(DOMAIN_STREAMS) == 5


@pytest.mark.parametrize("stream", DOMAIN_STREAMS)
async def test_domain_stream_denies_purge(bus: Bus, stream: str) -> None:
    _client, js = bus

    with pytest.raises(nats.js.errors.APIError):
        await js.purge_stream(stream)


async def test_domain_stream_denies_message_delete(bus: Bus) -> None:
    client, js = bus
    async with Publisher(client) as publisher:
        ack = await (await publisher.publish("zw.case.51.16.02.delete-test", b"{}"))

    with pytest.raises(nats.js.errors.APIError):
        await js.delete_msg(CASES, ack.seq)

    assert (await js.stream_info(CASES)).state.messages == 1

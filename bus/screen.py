"""Consoles and tables that keep codes whole on narrow terminals and in pipes.

Rich fits a table that is too wide by wrapping its text columns and, when
that is not enough, by shrinking every column evenly. That cuts a column of
21-character unified case codes to 17 characters without a mark and can
leave another column 0 characters wide. ``FittedTable`` plans the widths
itself: identifier columns keep their full width and text columns wrap.
Output that goes into a pipe or a file has no terminal width to fit, so
``ScreenConsole`` gives it a wide line instead of rich's 80 columns.

A table of many columns, such as the lag view's, cannot fit 80 columns even
so. Wrapped in ``StackedWhenNarrow``, it shows each row as a block of header
and value lines when it does not fit.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from rich import box
from rich.console import Console, ConsoleDimensions, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from contracts.identifiers import CHINA_TIME

PIPED_WIDTH = 160
"""Line width of output that is not a terminal, unless ``COLUMNS`` sets one."""
MIN_TEXT_WIDTH = 8
"""Width a text column keeps, when the screen allows, after identifiers are whole."""
TEXT_FLOOR = 4
"""Width a text column gets before identifiers are made whole: two Chinese characters."""
IDENTIFIER_FLOOR = 2
"""Width an identifier column gets before the identifiers left of it are made whole."""
_UNBOUNDED = 10_000


def screen_time(moment: datetime) -> str:
    """Format an aware moment for the screen: ``YYYY-MM-DD HH:MM:SS`` in China Standard Time.

    Times on screen are in China's zone, whatever the machine's own zone.
    """
    return moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M:%S")


class ScreenConsole(Console):
    """A rich console that is ``PIPED_WIDTH`` wide when its output is not a terminal.

    An explicit ``width`` or the ``COLUMNS`` variable takes precedence.
    """

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        if self._width is None and not self.is_terminal and not os.environ.get("COLUMNS"):
            return ConsoleDimensions(PIPED_WIDTH, measured.height)
        return measured

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


class FittedTable(Table):
    """A table whose identifier columns are never cut, whatever width it is drawn in.

    Columns created with ``no_wrap=True`` hold identifiers, numbers and short
    codes. They keep their full width while the other columns wrap. When the
    identifiers alone are wider than the screen, they fold onto further lines
    of their cell, and no column is left empty.
    """

    def __init__(self, *headers: Column | str, **options: Any) -> None:
        super().__init__(*headers, **options)
        self._identifiers: list[bool] | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self._fit(console, options)
        yield from super().__rich_console__(console, options)

    def _fit(self, console: Console, options: ConsoleOptions) -> None:
        """Set each column's width for drawing the table in ``options.max_width``."""
        if self._identifiers is None:
            self._identifiers = [column.no_wrap for column in self.columns]
        for column, identifier in zip(self.columns, self._identifiers, strict=True):
            column.width = None
            column.no_wrap = identifier
            column.overflow = "fold"
            if identifier and isinstance(column.header, str):
                # A header wider than its codes wraps instead of widening the column.
                column.header = Text(column.header, no_wrap=False, overflow="fold")

        padding = sum(self._get_padding_width(index) for index in range(len(self.columns)))
        # Below 2 characters a column cannot show one Chinese character.
        available = max(options.max_width - self._extra_width - padding, 2 * len(self.columns))
        natural = [
            self._natural_width(console, options, column, identifier)
            for column, identifier in zip(self.columns, self._identifiers, strict=True)
        ]
        if sum(natural) <= available:
            return

        widths = _plan_widths(natural, self._identifiers, available)
        for column, width, needed in zip(self.columns, widths, natural, strict=True):
            column.width = width
            if width < needed:
                column.no_wrap = False

    def _natural_width(
        self, console: Console, options: ConsoleOptions, column: Column, identifier: bool
    ) -> int:
        """Return the width a column needs to show every cell on one line."""
        wide = options.update_width(_UNBOUNDED)
        widths = [Measurement.get(console, wide, cell).maximum for cell in column.cells]
        header = Measurement.get(console, wide, column.header)
        widths.append(header.minimum if identifier else header.maximum)
        return max(widths, default=1)


class StackedWhenNarrow:
    """A table shown as it is when each row fits on one line, else as one block per row.

    A block has a line per column: the column's header, then the row's
    value, which wraps. Blank lines separate the blocks, and the table's
    title comes first. No value is cut or folded into a narrow column.
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table = self.table
        needed = Measurement.get(console, options.update_width(_UNBOUNDED), table).maximum
        if needed <= options.max_width:
            yield table
            return

        title = table.title
        if title is not None:
            yield Text(title, style="italic") if isinstance(title, str) else title
        headers = [column.header for column in table.columns]
        rows = zip(*(list(column.cells) for column in table.columns), strict=True)
        for index, cells in enumerate(rows):
            if index:
                yield Text()
            block = Table(box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False)
            block.add_column(no_wrap=True, style="bold")
            block.add_column(overflow="fold")
            for header, cell in zip(headers, cells, strict=True):
                block.add_row(header, cell)
            yield block


def _plan_widths(natural: list[int], identifiers: list[bool], available: int) -> list[int]:
    """Share ``available`` characters among columns whose one-line widths are ``natural``.

    Every column first gets its floor (``TEXT_FLOOR`` for text,
    ``IDENTIFIER_FLOOR`` for identifiers), so that none is left empty. Then
    the identifier columns grow to their whole width from left to right, the
    text columns grow to ``MIN_TEXT_WIDTH``, and what is left goes to the
    narrowest columns first. An identifier column left below its whole
    width folds its values.
    """
    widths = [0] * len(natural)
    floors = [
        min(width, IDENTIFIER_FLOOR if identifier else TEXT_FLOOR)
        for width, identifier in zip(natural, identifiers, strict=True)
    ]
    budget = _grow_narrowest(widths, floors, available)
    for index, identifier in enumerate(identifiers):
        if identifier:
            grown = min(natural[index] - widths[index], budget)
            widths[index] += grown
            budget -= grown
    text = [
        widths[index] if identifier else min(natural[index], MIN_TEXT_WIDTH)
        for index, identifier in enumerate(identifiers)
    ]
    budget = _grow_narrowest(widths, text, budget)
    _grow_narrowest(widths, natural, budget)
    return widths


def _grow_narrowest(widths: list[int], targets: list[int], budget: int) -> int:
    """Widen columns toward ``targets``, the narrowest first; returns the budget left."""
    while budget > 0:
        growing = [index for index, width in enumerate(widths) if width < targets[index]]
        if not growing:
            break
        widths[min(growing, key=lambda index: widths[index])] += 1
        budget -= 1
    return budget

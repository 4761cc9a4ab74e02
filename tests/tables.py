"""Render rich tables at a fixed width and read their cells back, for screen tests."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType


def render(renderable: RenderableType, width: int) -> str:
    """Return what a terminal ``width`` columns wide shows for ``renderable``."""
    console = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    console.print(renderable)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def column_texts(output: str) -> list[list[str]]:
    """Return each row's cells of a table rendered with ``show_lines=True``.

    The lines of a cell are joined without their padding, so a folded code
    reads as it was written and wrapped text loses only its spaces.
    """
    rows: list[list[str]] = []
    starting = True
    for line in output.split("┡")[-1].splitlines():
        if line.startswith(("├", "└")):
            starting = True
            continue
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if starting:
            rows.append(cells)
            starting = False
        else:
            rows[-1] = [joined + cell for joined, cell in zip(rows[-1], cells, strict=True)]
    return rows


def header_cells(output: str) -> list[str]:
    """Return the header's cells, the lines of a cell joined."""
    header = output.split("┡")[0]
    cells: list[str] = []
    for line in header.splitlines():
        if not line.startswith("┃"):
            continue
        parts = [part.strip() for part in line.strip("┃").split("┃")]
        cells = [*cells, *[""] * (len(parts) - len(cells))]
        cells = [joined + part for joined, part in zip(cells, parts, strict=True)]
    return cells

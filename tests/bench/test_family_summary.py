"""The demo summary names its figures as the query commands do, in both languages."""

from __future__ import annotations

import pytest
from rich.table import Table

from bench.demo.family_summary import sharing_table
from bus.i18n import set_language
from projections.sharing.display import backlog_table
from projections.sharing.queries import SharingBacklog

BACKLOG = SharingBacklog(
    as_of="2026-12-04T10:00:00+08:00",
    awaiting_approval=3,
    approved_not_delivered=2,
    open_objections=1,
    oldest_objection_id="OBJ-1",
    oldest_objection_age_days=4.5,
    oldest_objection_age_working_days=3,
)


def _row_names(table: Table) -> list[str]:
    return [str(cell) for cell in table.columns[0].cells]


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_backlog_rows_named_as_command(language: str) -> None:
    """``zwbus demo`` and ``zwbus sharing backlog`` use one term for each figure."""
    set_language(language)

    demo = _row_names(sharing_table(BACKLOG))
    command = _row_names(backlog_table(BACKLOG))

    assert len(demo) == 4
    assert set(demo) <= set(command), (demo, command)


def test_approved_requests_term_in_chinese() -> None:
    set_language("zh_CN")

    demo = _row_names(sharing_table(BACKLOG))

    assert "已批准未供数的申请" in demo

"""Store diffs: rows added, removed and changed by primary key, on hand-made files and builds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bus.errors import ConfigError
from bus.settings import Settings
from projections.cases import CasesProjection
from replay.asof import build_as_of
from replay.diff import RowChange, diff_stores
from replay.reader import ReplayWindow
from tests.projections.helpers import at, case_event, publish
from tests.replay import CITY_REGION, Bus, flow, stream_moment


def _database(path: Path, script: str) -> Path:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(script)
        connection.commit()
    finally:
        connection.close()
    return path


LEFT = """
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, city TEXT);
INSERT INTO people VALUES (1, '张三', '广安'), (2, '李四', '岳池'), (3, '王五', NULL);
CREATE TABLE tags (name TEXT, weight INTEGER);
INSERT INTO tags VALUES ('a', 1), ('b', 2);
CREATE TABLE gone (id INTEGER PRIMARY KEY);
INSERT INTO gone VALUES (1);
"""

RIGHT = """
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, city TEXT, phone TEXT);
INSERT INTO people VALUES (1, '张三', '广安', NULL), (2, '李四', '邻水', NULL),
    (3, '王五', '武胜', NULL), (4, '赵六', '华蓥', '138');
CREATE TABLE tags (name TEXT, weight INTEGER);
INSERT INTO tags VALUES ('a', 1), ('c', 3);
CREATE TABLE fresh (id INTEGER PRIMARY KEY, data BLOB);
INSERT INTO fresh VALUES (1, x'00ff');
"""


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path]:
    return _database(tmp_path / "left.sqlite", LEFT), _database(tmp_path / "right.sqlite", RIGHT)


def test_rows_matched_by_primary_key(stores: tuple[Path, Path]) -> None:
    result = diff_stores(*stores, sample=10)

    people = next(table for table in result.tables if table.table == "people")
    assert people.key == ["id"]
    assert (people.added, people.removed, people.changed) == (1, 0, 2)
    assert people.columns_added == ["phone"]
    assert people.added_sample == [{"id": 4, "name": "赵六", "city": "华蓥", "phone": "138"}]
    assert people.changed_sample == [
        RowChange(key={"id": 2}, changes={"city": ("岳池", "邻水")}),
        RowChange(key={"id": 3}, changes={"city": (None, "武胜")}),
    ]
    assert not result.same


def test_table_without_key_by_whole_rows(stores: tuple[Path, Path]) -> None:
    result = diff_stores(*stores)

    tags = next(table for table in result.tables if table.table == "tags")
    assert tags.key == []
    assert (tags.added, tags.removed, tags.changed) == (1, 1, None)
    assert tags.added_sample == [{"name": "c", "weight": 3}]
    assert tags.removed_sample == [{"name": "b", "weight": 2}]


def test_tables_on_one_side(stores: tuple[Path, Path]) -> None:
    result = diff_stores(*stores)

    by_name = {table.table: table for table in result.tables}
    assert sorted(by_name) == ["fresh", "gone", "people", "tags"]
    assert (by_name["gone"].removed, by_name["gone"].right_rows) == (1, 0)
    assert (by_name["fresh"].added, by_name["fresh"].left_rows) == (1, 0)
    assert by_name["fresh"].added_sample == [{"id": 1, "data": "x'00ff'"}]


def test_sample_and_table_options(stores: tuple[Path, Path]) -> None:
    result = diff_stores(*stores, sample=1, tables=["people"])

    [people] = result.tables
    assert people.changed == 2
    assert len(people.changed_sample) == 1


def test_same_store_is_same(stores: tuple[Path, Path]) -> None:
    left, _right = stores

    assert diff_stores(left, left).same


def test_bad_inputs_explained(stores: tuple[Path, Path], tmp_path: Path) -> None:
    left, right = stores
    text = tmp_path / "notes.sqlite"
    text.write_text("plain text, not a database " * 10)

    with pytest.raises(ConfigError, match="was not found"):
        diff_stores(left, tmp_path / "missing.sqlite")
    with pytest.raises(ConfigError, match="nope exists in neither store"):
        diff_stores(left, right, tables=["nope"])
    with pytest.raises(ConfigError, match=r"notes\.sqlite is not an SQLite database"):
        diff_stores(left, text)
    with pytest.raises(ConfigError, match=r"notes\.sqlite is not an SQLite database"):
        diff_stores(text, right)


async def test_diff_of_two_builds(bus: Bus, settings: Settings, tmp_path: Path) -> None:
    client, js = bus
    await publish(client, [*flow("C1"), *flow("C2")[:2]])
    first_moment = await stream_moment()
    await publish(client, [
        case_event("concluded", "C2", at("2026-10-13")),
        case_event("submitted", "C3", at("2026-10-13")),
        case_event("submitted", "C4", at("2026-10-13"), region=CITY_REGION),
    ])
    second_moment = await stream_moment()
    projection = CasesProjection.for_data_dir(settings.data_dir)
    earlier, later = tmp_path / "earlier.sqlite", tmp_path / "later.sqlite"
    await build_as_of(js, projection, settings, earlier, ReplayWindow(until=first_moment))
    await build_as_of(js, projection, settings, later, ReplayWindow(until=second_moment))

    result = diff_stores(earlier, later, sample=5)

    by_name = {table.table: table for table in result.tables}
    cases = by_name["cases"]
    assert (cases.added, cases.removed, cases.changed) == (2, 0, 1)
    assert [row["code"] for row in cases.added_sample] == ["C3", "C4"]
    [change] = cases.changed_sample
    assert change.key == {"code": "C2"}
    assert change.changes["status"] == ("accepted", "concluded")
    assert change.changes["events"] == (2, 3)
    assert (by_name["case_events"].added, by_name["case_events"].changed) == (3, 0)
    assert by_name["checkpoint"].changed_sample[0].changes["seq"] == (5, 8)
    assert by_name["set_aside"].differs is False

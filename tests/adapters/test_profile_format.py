"""Profile format errors name the TOML key and the fix in the screen language."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.profile import load_profile
from bus.errors import ConfigError
from bus.i18n import set_language
from tests.adapters.helpers import write_profile

POLL_TABLE = '\n[poll]\ndriver = "mysql"\ntable = "t"\nwatermark = "w"\nkey = "k"\nkind = "id"\n'


def _error(tmp_path: Path, old: str, new: str) -> str:
    text = write_profile(tmp_path / "base.toml").read_text(encoding="utf-8") + POLL_TABLE
    assert old in text
    path = tmp_path / "profile.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    return str(caught.value)


def test_unknown_key_names_table_and_known_keys(tmp_path: Path) -> None:
    message = _error(tmp_path, 'family = "case"', 'family = "case"\ncase_system = "GA"')

    assert "the key case_system is not known in [source]" in message
    assert "id, system, name, family, format, encoding, timezone, cross_level_prefix" in message
    assert "Object contains" not in message


def test_unknown_table_names_known_tables(tmp_path: Path) -> None:
    message = _error(tmp_path, "[status]", "[statuses]")

    assert "the table statuses is not known" in message
    assert "source, fields, status, result, id_types, poll." in message
    assert "path" not in message.split("known tables are")[1]


def test_missing_required_key_named(tmp_path: Path) -> None:
    message = _error(tmp_path, 'watermark = "w"\n', "")

    assert "[poll] lacks the required key watermark; add it." in message


def test_wrong_type_named(tmp_path: Path) -> None:
    message = _error(tmp_path, 'id = "', 'id = 5\nold_id = "')

    assert "source.id must be text in quotes, not a whole number" in message


def test_wrong_type_in_table_named(tmp_path: Path) -> None:
    message = _error(tmp_path, 'local_no = "no"', "local_no = 1")

    assert "fields.* must be text in quotes, not a whole number" in message


def test_value_outside_fixed_set_lists_allowed(tmp_path: Path) -> None:
    message = _error(tmp_path, 'kind = "id"', 'kind = "day"')

    assert "poll.kind = 'day' is not allowed; use one of id, time." in message


def test_format_error_in_chinese(tmp_path: Path) -> None:
    set_language("zh_CN")

    message = _error(tmp_path, 'family = "case"', 'family = "case"\ncase_system = "GA"')

    assert "case_system" in message
    assert "[source]" in message
    assert "Object contains" not in message
    assert "known" not in message
    assert "拼写" in message


def test_setting_rule_in_chinese(tmp_path: Path) -> None:
    set_language("zh_CN")

    message = _error(tmp_path, 'timezone = "Asia/Shanghai"', 'timezone = "Asia/Guangan"')

    assert "source.timezone" in message
    assert "'Asia/Guangan'" in message
    assert "use an IANA zone" not in message
    assert "IANA" in message


def test_poll_rule_in_chinese(tmp_path: Path) -> None:
    set_language("zh_CN")

    message = _error(tmp_path, 'kind = "id"', 'kind = "id"\nbatch_size = 0')

    assert "poll.batch_size = 0" in message
    assert "请使用正整数行数" in message
    assert "positive" not in message

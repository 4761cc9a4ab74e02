"""Tests for loading source profiles: every error names the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.profile import load_profile
from bus.errors import ConfigError
from tests.adapters.helpers import SOURCE_ID, SYSTEM, write_profile


def _profile_text(tmp_path: Path) -> str:
    return write_profile(tmp_path / "base.toml").read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_profile_loads_test_profile(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path / "p.toml"))

    assert profile.source.id == SOURCE_ID
    assert profile.source.system == SYSTEM
    assert profile.fields["local_no"] == "no"
    assert profile.status["2"] == "accepted"
    assert profile.id_types["111"] == "id_card"
    assert str(profile.zone) == "Asia/Shanghai"


def test_profile_unknown_field_named(tmp_path: Path) -> None:
    text = _profile_text(tmp_path).replace('remark = "remark"', 'remarks = "remark"')

    with pytest.raises(ConfigError) as caught:
        load_profile(_write(tmp_path, text))

    message = str(caught.value)
    assert "fields.remarks" in message
    assert "known contract fields" in message
    assert "remark," in message


def test_profile_unmapped_required_field_named(tmp_path: Path) -> None:
    text = _profile_text(tmp_path).replace('region = "area"\n', "")

    with pytest.raises(ConfigError) as caught:
        load_profile(_write(tmp_path, text))

    message = str(caught.value)
    assert "fields.region" in message
    assert "must be mapped to a column" in message


def test_profile_bad_status_value_named(tmp_path: Path) -> None:
    text = _profile_text(tmp_path).replace('"2" = "accepted"', '"2" = "acepted"')

    with pytest.raises(ConfigError) as caught:
        load_profile(_write(tmp_path, text))

    message = str(caught.value)
    assert "status.2" in message
    assert "'acepted'" in message
    assert "use one of" in message
    assert "accepted" in message.split("use one of", 1)[1]


def test_profile_bad_result_value_named(tmp_path: Path) -> None:
    text = _profile_text(tmp_path).replace('"1" = "denied"', '"1" = "refused"')

    with pytest.raises(ConfigError, match=r"result\.1 = 'refused' is invalid: use one of"):
        load_profile(_write(tmp_path, text))


def test_profile_bad_timezone_named(tmp_path: Path) -> None:
    path = write_profile(tmp_path / "p.toml", timezone="Asia/Guangan")

    with pytest.raises(ConfigError) as caught:
        load_profile(path)

    message = str(caught.value)
    assert "source.timezone" in message
    assert "'Asia/Guangan'" in message
    assert "IANA zone such as Asia/Shanghai" in message


def test_profile_bad_source_id_named(tmp_path: Path) -> None:
    path = write_profile(tmp_path / "p.toml", source_id="Test Source")

    with pytest.raises(ConfigError, match=r"source\.id = 'Test Source' is invalid: use 1-40"):
        load_profile(path)


def test_profile_unknown_source_key_named(tmp_path: Path) -> None:
    text = _profile_text(tmp_path).replace('family = "case"', 'family = "case"\nfamliy = "x"')

    with pytest.raises(ConfigError) as caught:
        load_profile(_write(tmp_path, text))

    message = str(caught.value)
    assert "the key famliy is not known in [source]" in message
    assert "known keys there are id, system," in message


def test_profile_invalid_toml_names_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[source\nid = 1\n")

    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_profile(path)


def test_profile_missing_file_named(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(ConfigError, match=r"absent\.toml not found"):
        load_profile(path)

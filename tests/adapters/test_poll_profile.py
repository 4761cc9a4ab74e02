"""Tests of the ``[poll]`` table of a source profile: checks, defaults and the connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.family_profile import FamilyProfile, load_source_profile
from adapters.profile import load_profile
from adapters.sql.config import overlap_of, resolve_connection
from bus.errors import ConfigError
from tests.adapters.family_helpers import REVIEW_PROFILE, write_text
from tests.adapters.helpers import write_profile

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def _profile_with(tmp_path: Path, poll: str) -> Path:
    path = write_profile(tmp_path / "profile.toml")
    with path.open("a", encoding="utf-8") as stream:
        stream.write("\n[poll]\n" + poll)
    return path


def test_documented_poll_profile_loads() -> None:
    profile = load_profile(EXAMPLES / "huji-poll.toml")

    assert profile.poll is not None
    assert profile.poll.table == "huji_case_status"
    assert profile.poll.kind == "time"
    assert overlap_of(profile.poll) == 60


def test_dsn_resolves_connection(tmp_path: Path) -> None:
    path = _profile_with(
        tmp_path,
        'dsn = "mariadb://reader:s%40cret@db.example:3307/cases"\n'
        'table = "t"\nwatermark = "updated_at"\nkey = "id"\nkind = "time"\n',
    )
    poll = load_profile(path).poll
    assert poll is not None

    connection = resolve_connection(str(path), poll)

    assert connection.driver == "mysql"
    assert (connection.host, connection.port, connection.database) == ("db.example", 3307, "cases")
    assert (connection.user, connection.password) == ("reader", "s@cret")
    assert "cret" not in connection.describe()


def test_password_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _profile_with(
        tmp_path,
        'driver = "postgresql"\nuser = "reader"\npassword_env = "ZW_TEST_DB_PASSWORD"\n'
        'table = "t"\nwatermark = "id"\nkey = "id"\nkind = "id"\n',
    )
    poll = load_profile(path).poll
    assert poll is not None
    monkeypatch.setenv("ZW_TEST_DB_PASSWORD", "from-environment")

    connection = resolve_connection(str(path), poll)

    assert connection.password == "from-environment"
    assert connection.port == 5432
    assert overlap_of(poll) == 0


def test_missing_password_variable_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _profile_with(
        tmp_path,
        'driver = "mysql"\npassword_env = "ZW_TEST_UNSET_PASSWORD"\n'
        'table = "t"\nwatermark = "id"\nkey = "id"\nkind = "id"\n',
    )
    poll = load_profile(path).poll
    assert poll is not None
    monkeypatch.delenv("ZW_TEST_UNSET_PASSWORD", raising=False)

    with pytest.raises(ConfigError, match="ZW_TEST_UNSET_PASSWORD, which is not set"):
        resolve_connection(str(path), poll)


@pytest.mark.parametrize(
    ("poll", "message"),
    [
        (
            'driver = "mysql"\ntable = "t"\nquery = "SELECT 1"\n'
            'watermark = "w"\nkey = "k"\nkind = "id"\n',
            "set exactly one of poll.table and poll.query",
        ),
        ('table = "t"\nwatermark = "w"\nkey = "k"\nkind = "id"\n', "set poll.dsn"),
        (
            'driver = "oracle"\ntable = "t"\nwatermark = "w"\nkey = "k"\nkind = "id"\n',
            "use postgresql, mysql or mariadb",
        ),
        (
            'dsn = "sqlite:///cases.db"\ntable = "t"\nwatermark = "w"\nkey = "k"\nkind = "id"\n',
            r"use postgresql://user@host:port/database",
        ),
        (
            'driver = "mysql"\ntable = "t"\nwatermark = "w"\nkey = "k"\nkind = "id"\n'
            "overlap = 1.5\n",
            "use a whole number of ids",
        ),
        (
            'driver = "mysql"\ntable = "t"\nwatermark = "w"\nkey = "k"\nkind = "time"\n'
            "batch_size = 0\n",
            "use a positive number of rows",
        ),
        (
            'driver = "mysql"\ntable = "t"\nwatermark = "w"\nkey = "k"\nkind = "day"\n',
            "poll.kind = 'day' is not allowed; use one of id, time",
        ),
    ],
)
def test_invalid_poll_table_rejected(tmp_path: Path, poll: str, message: str) -> None:
    path = _profile_with(tmp_path, poll)

    with pytest.raises(ConfigError, match=message):
        load_profile(path)


def test_dsn_password_not_in_message(tmp_path: Path) -> None:
    path = _profile_with(
        tmp_path,
        'dsn = "oracle://user:topsecret@host/db"\n'
        'table = "t"\nwatermark = "w"\nkey = "k"\nkind = "id"\n',
    )

    with pytest.raises(ConfigError) as raised:
        load_profile(path)

    assert "topsecret" not in str(raised.value)


def test_review_profile_takes_poll_table(tmp_path: Path) -> None:
    poll = '[poll]\ndriver = "postgresql"\ntable = "ratings"\nwatermark = "w"\nkey = "k"\n'
    path = write_text(tmp_path / "review.toml", f'{REVIEW_PROFILE}\n{poll}kind = "time"\n')

    profile = load_source_profile(path)

    assert isinstance(profile, FamilyProfile)
    assert profile.poll is not None
    assert profile.poll.table == "ratings"
    assert overlap_of(profile.poll) == 60


def test_review_profile_poll_table_checked(tmp_path: Path) -> None:
    """A family profile's [poll] table gets the same checks as a case profile's."""
    poll = '[poll]\ndriver = "mysql"\ntable = "t"\nwatermark = "w"\nkey = "k"\nkind = "time"\n'
    path = write_text(tmp_path / "review.toml", f"{REVIEW_PROFILE}\n{poll}batch_size = 0\n")

    with pytest.raises(ConfigError, match=r"poll\.batch_size = 0 is invalid"):
        load_source_profile(path)

"""HMAC-SM3 pseudonyms and the key that drives them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bus.errors import ConfigError
from projections.pseudonym import KEY_ENV, Pseudonymizer, key_path, load_key

IDENTIFIER = "51160219900101123X"


def test_pseudonym_is_stable_for_one_key() -> None:
    first = Pseudonymizer(b"k" * 32)
    second = Pseudonymizer(b"k" * 32)

    assert first.pseudonym(IDENTIFIER) == second.pseudonym(IDENTIFIER)
    assert len(first.pseudonym(IDENTIFIER)) == 64


def test_pseudonym_differs_across_keys() -> None:
    assert Pseudonymizer(b"k" * 32).pseudonym(IDENTIFIER) != Pseudonymizer(b"j" * 32).pseudonym(
        IDENTIFIER
    )


def test_pseudonym_differs_across_identifiers() -> None:
    pseudonymizer = Pseudonymizer(b"k" * 32)

    assert pseudonymizer.pseudonym(IDENTIFIER) != pseudonymizer.pseudonym("511602199001011234")


def test_pseudonym_does_not_contain_identifier() -> None:
    assert IDENTIFIER.lower() not in Pseudonymizer(b"k" * 32).pseudonym(IDENTIFIER)


def test_key_file_created_once_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)

    first = load_key(tmp_path)
    second = load_key(tmp_path)

    assert first == second
    assert len(first) == 32
    mode = stat.S_IMODE(key_path(tmp_path).stat().st_mode)
    assert mode == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["pseudonym.key"]


def test_environment_key_wins_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "ab" * 32)

    key = load_key(tmp_path)

    assert key == bytes.fromhex("ab" * 32)
    assert not key_path(tmp_path).exists()


@pytest.mark.parametrize("value", ["ab" * 8, "not hex at all", "zz" * 32])
def test_invalid_environment_key_is_rejected(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, value)

    with pytest.raises(ConfigError, match=KEY_ENV):
        load_key(tmp_path)


def test_truncated_key_file_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    key_path(tmp_path).write_bytes(b"short")

    with pytest.raises(ConfigError, match="5 bytes"):
        load_key(tmp_path)

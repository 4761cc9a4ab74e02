"""Tests for loading review, hall and sharing profiles: every error names the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.family_fields import FAMILY_FIELDS, PAYLOAD_NAME, payload_field_names
from adapters.family_profile import FamilyProfile, load_source_profile
from adapters.profile import Profile
from adapters.sdk.pipeline import family_stream
from bus.errors import ConfigError
from contracts.hall import HALL_PAYLOADS
from contracts.review import REVIEW_PAYLOADS
from contracts.share import SHARE_PAYLOADS
from tests.adapters.family_helpers import (
    HALL_PROFILE,
    REVIEW_PROFILE,
    SHARE_PROFILE,
    write_text,
)
from tests.adapters.helpers import write_profile


def _load(tmp_path: Path, text: str) -> FamilyProfile | Profile:
    return load_source_profile(write_text(tmp_path / "profile.toml", text))


@pytest.mark.parametrize(
    ("text", "family"),
    [(REVIEW_PROFILE, "review"), (HALL_PROFILE, "hall"), (SHARE_PROFILE, "share")],
)
def test_family_profiles_load(tmp_path: Path, text: str, family: str) -> None:
    profile = _load(tmp_path, text)

    assert isinstance(profile, FamilyProfile)
    assert profile.family == family
    assert str(profile.zone) == "Asia/Shanghai"


def test_review_profile_tables_read(tmp_path: Path) -> None:
    profile = _load(tmp_path, REVIEW_PROFILE)

    assert isinstance(profile, FamilyProfile)
    assert profile.events["1"] == "rated"
    assert profile.codes["channel"]["3"] == "window"
    assert profile.source.case_system == "TEST-SYS"


def test_case_profile_loads_as_case(tmp_path: Path) -> None:
    profile = load_source_profile(write_profile(tmp_path / "case.toml"))

    assert isinstance(profile, Profile)


def test_event_codes_normalised(tmp_path: Path) -> None:
    text = REVIEW_PROFILE.replace('"1" = "rated"', '"１" = "rated"')

    profile = _load(tmp_path, text)

    assert isinstance(profile, FamilyProfile)
    assert profile.events["1"] == "rated"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('level = "level"', 'levels = "level"', ["fields.levels", "known contract fields"]),
        (
            '"2" = "verified"',
            '"2" = "checked"',
            ["events.2", "'checked'", "use one of", "verified"],
        ),
        ('"3" = "window"', '"3" = "counter"', ["codes.channel.3", "'counter'", "window"]),
        ('"5" = "5"', '"5" = "6"', ["codes.level.5", "'6'", "use one of 1, 2, 3, 4, 5"]),
        ("[codes.level]", "[codes.rater]", ["codes.rater", "code tables exist for", "channel"]),
        ('valid = "valid"\n', "", ["events.2", "'verified'", "needs fields.valid"]),
        ('case_system = "TEST-SYS"\n', "", ["source.case_system", "local_no column"]),
        ('family = "review"', 'family = "reviews"', ["source.family", "case, review, hall, share"]),
        ('event_time = "time"\n', "", ["fields.event_time", "must be mapped to a column"]),
        (
            'family = "review"',
            'family = "review"\nfamliy = "x"',
            ["famliy", "[source]", "case_system"],
        ),
    ],
)
def test_bad_review_profile_named(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    assert old in REVIEW_PROFILE
    text = REVIEW_PROFILE.replace(old, new)

    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)

    message = str(caught.value)
    for part in expected:
        assert part in message, message


def test_follow_up_needs_case_reference(tmp_path: Path) -> None:
    text = REVIEW_PROFILE.replace('local_no = "no"\n', "").replace('case_code = "code"\n', "")

    with pytest.raises(
        ConfigError, match=r"events\.1 = 'rated'.*fields\.local_no or fields\.case_code"
    ):
        _load(tmp_path, text)


def test_follow_up_with_review_id_needs_no_rater(tmp_path: Path) -> None:
    text = REVIEW_PROFILE.replace('"1" = "rated"\n', "").replace(
        'rater = "rater"\n', 'review_id = "review"\n'
    )

    profile = _load(tmp_path, text)

    assert isinstance(profile, FamilyProfile)


def test_share_choice_checked_against_contract(tmp_path: Path) -> None:
    text = SHARE_PROFILE.replace('"3" = "none"', '"3" = "never"')

    with pytest.raises(ConfigError, match=r"codes\.share_type\.3 = 'never'.*conditional"):
        _load(tmp_path, text)


def test_empty_events_table_named(tmp_path: Path) -> None:
    text = HALL_PROFILE.split("[events]")[0] + "[events]\n"

    with pytest.raises(ConfigError, match=r"events = \{\} is invalid: map at least one"):
        _load(tmp_path, text)


@pytest.mark.parametrize(
    ("family", "payloads"),
    [("review", REVIEW_PAYLOADS), ("hall", HALL_PAYLOADS), ("share", SHARE_PAYLOADS)],
)
def test_every_payload_field_mappable(family: str, payloads: tuple[type, ...]) -> None:
    """Each payload field of the family's contracts has a [fields] name, except ``system``."""
    mappable = {PAYLOAD_NAME.get(name, name) for name in FAMILY_FIELDS[family]} | {"remark"}

    for payload in payloads:
        event_type = str(payload.__struct_config__.tag)  # type: ignore[attr-defined]
        missing = payload_field_names(event_type) - mappable - {"system"}
        assert not missing, (event_type, missing)


@pytest.mark.parametrize(
    ("text", "stream"),
    [(REVIEW_PROFILE, "ZW_REVIEWS"), (HALL_PROFILE, "ZW_HALL"), (SHARE_PROFILE, "ZW_SHARING")],
)
def test_family_stream_for_heartbeat(tmp_path: Path, text: str, stream: str) -> None:
    assert family_stream(_load(tmp_path, text)) == stream


def test_case_stream_for_heartbeat(tmp_path: Path) -> None:
    assert family_stream(load_source_profile(write_profile(tmp_path / "case.toml"))) == "ZW_CASES"

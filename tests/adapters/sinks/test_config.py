"""Loading and checking the sink configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.sinks.config import load_sinks_config
from bus.errors import ConfigError

EXAMPLE = """\
[[sink]]
id = "city-5116"
target = "http"
url = "https://city.example/zwbus/events"
batch_size = 50
max_attempts = 4
headers = { Authorization = "Bearer ${SINK_TEST_TOKEN}", X-Level = "city" }
[sink.backoff]
initial_s = 1.0
max_s = 20.0
[sink.filter]
regions = ["5116"]
types = ["case.concluded", "item.published"]

[[sink]]
id = "county-archive"
target = "file"
directory = "out/511602"
format = "csv"
[sink.rotation]
daily = false
max_bytes = 1048576
[sink.filter]
regions = ["511602"]
families = ["case", "review"]
departments = ["11511602MB1234567X"]
types = ["review.rated"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sinks.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINK_TEST_TOKEN", "t0ken")

    config = load_sinks_config(_write(tmp_path, EXAMPLE))

    city, county = config.sinks
    assert city.headers == {"Authorization": "Bearer t0ken", "X-Level": "city"}
    assert city.families == ["case", "item"]
    assert city.backoff.initial_s == 1.0
    assert city.backoff.multiplier == 2.0
    assert county.directory == str(tmp_path / "out" / "511602")
    assert county.families == ["case", "review"]
    assert county.rotation.daily is False
    assert config.sink("county-archive") is county


def test_unknown_sink_id_names_known(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINK_TEST_TOKEN", "t0ken")
    config = load_sinks_config(_write(tmp_path, EXAMPLE))

    with pytest.raises(ConfigError, match="sinks there: city-5116, county-archive"):
        config.sink("town")


HTTP = '[[sink]]\nid = "a"\ntarget = "http"\nurl = "http://127.0.0.1:9/in"\n'
FILE = '[[sink]]\nid = "b"\ntarget = "file"\ndirectory = "out"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "has no \\[\\[sink\\]\\] table"),
        ("[sinks]\n", "unknown top-level table"),
        ("[[sink]\n", "is not valid TOML"),
        (HTTP.replace('"a"', '"A b"'), "id = 'A b' is invalid. Use 1-40 characters"),
        (HTTP.replace('"http"', '"ftp"'), "target = 'ftp' is invalid. Use target"),
        (HTTP.replace("http://127.0.0.1:9/in", "127.0.0.1"), "url = '127.0.0.1' is invalid"),
        (HTTP + 'directory = "x"\n', "Only a file sink has a directory"),
        (FILE.replace('directory = "out"\n', ""), "A file sink needs directory"),
        (FILE + 'url = "http://x/"\n', "Only an HTTP sink has a url"),
        (FILE + 'format = "xlsx"\n', "format = 'xlsx' is invalid"),
        (FILE + "[sink.rotation]\nmax_bytes = 100\n", "at least 1024 bytes"),
        (HTTP + "batch_size = 0\n", "batch_size = 0 is invalid. Use 1 to 1000"),
        (HTTP + "max_attempts = 0\n", "max_attempts = 0 is invalid"),
        (HTTP + "timeout_s = 0\n", "timeout_s = 0.0 is invalid"),
        (HTTP + "[sink.backoff]\ninitial_s = 5.0\nmax_s = 1.0\n", "at least backoff.initial_s"),
        (HTTP + "[sink.backoff]\nmultiplier = 0.5\n", "factor of 1 or more"),
        (HTTP + "colour = 1\n", "unknown field `colour`"),
        (HTTP + '[sink.filter]\nregions = ["5116x"]\n', "'5116x' is invalid. Use 2 digits"),
        (HTTP + '[sink.filter]\nregions = ["511"]\n', "'511' is invalid"),
        (HTTP + '[sink.filter]\nfamilies = ["cases"]\n', "Use case, review, hall, share"),
        (HTTP + '[sink.filter]\ndepartments = [" "]\n', "Remove the empty department"),
        (HTTP + '[sink.filter]\ntypes = ["concluded"]\n', "Write the full type"),
        (HTTP + '[sink.filter]\ntypes = ["case.approved"]\n', "No such event type"),
        (
            HTTP + '[sink.filter]\nfamilies = ["item"]\ntypes = ["case.concluded"]\n',
            "not in filter.families",
        ),
        (HTTP + 'headers = { Authorization = "${SINK_TEST_UNSET}" }\n', "SINK_TEST_UNSET"),
        (HTTP + HTTP, "sink id a appears twice"),
    ],
)
def test_invalid_config_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(ConfigError, match=message):
        load_sinks_config(path)


def test_error_names_file_and_sink(tmp_path: Path) -> None:
    path = _write(tmp_path, HTTP + "max_attempts = 500\n")

    with pytest.raises(ConfigError) as caught:
        load_sinks_config(path)

    assert str(path) in str(caught.value)
    assert "[[sink]] #1 (a)" in str(caught.value)
    assert "Use 1 to 100 attempts." in str(caught.value)


def test_missing_file_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_sinks_config(tmp_path / "absent.toml")

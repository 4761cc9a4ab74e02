"""The ``zwbus replay`` command: exports, point-in-time builds, diffs, errors and its catalogue."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from pathlib import Path

import click
import msgspec
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner, Result

from bus.cli import build_root
from bus.connect import open_bus
from bus.settings import Settings
from bus.streams import ensure_streams
from contracts.envelope import Envelope
from contracts.identifiers import CHINA_TIME, mask_identifier
from replay.filters import UndecodableMessageError
from tests.bus import test_catalogues
from tests.projections.helpers import (
    APPLICANT_ID,
    at,
    case_event,
    publish,
    publish_raw,
    run_zwbus,
)
from tests.replay import CITY_REGION, flow, stream_moment


def zwbus(settings: Settings, *arguments: str) -> Result:
    """Invoke the root command in this process, returning the command's own exit value."""
    assert settings.nats_url is not None
    return CliRunner().invoke(
        build_root(),
        ["--nats-url", settings.nats_url, "--data-dir", str(settings.data_dir), *arguments],
        standalone_mode=False,
        env={"COLUMNS": "240"},
    )


class Published(msgspec.Struct):
    """Events on the test server and a stream moment between the two groups."""

    first: list[Envelope]
    second: list[Envelope]
    moment: datetime
    bad_seq: int


@pytest.fixture
def published(settings: Settings) -> Published:
    first = [*flow("C1"), *flow("C2", region=CITY_REGION)[:2]]
    second = [case_event("concluded", "C2", at("2026-10-13"), region=CITY_REGION)]

    async def prepare() -> Published:
        async with open_bus(settings) as (client, js):
            await ensure_streams(js)
            await publish(client, first)
            moment = await stream_moment()
            bad_seq = await publish_raw(js, "zw.case.51.16.02.C9", b"\xff\xfe", "raw-1")
            await publish(client, second)
        return Published(first, second, moment, bad_seq)

    return asyncio.run(prepare())


def test_jsonl_file_simplest_call(published: Published, settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "cases.jsonl"

    result = zwbus(settings, "replay", "--stream", "ZW_CASES", "--format", "jsonl", "--out",
                   str(out))

    assert result.exception is None, result.output
    assert result.return_value == 0
    ids = [msgspec.json.decode(line)["id"] for line in out.read_bytes().splitlines()]
    assert ids == [event.id for event in [*published.first, *published.second]]
    assert "6 events written, 1 undecodable" in result.stderr
    assert f"undecodable: sequence {published.bad_seq} (zw.case.51.16.02.C9)" in result.stderr
    assert f"Written to {out}." in result.stderr


def test_csv_to_stdout_filtered(published: Published, settings: Settings) -> None:
    result = zwbus(settings, "replay", "--format", "csv", "--region", "511621", "--type",
                   "concluded", "--type", "submitted")

    assert result.exception is None, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [row["id"] for row in rows] == [published.first[3].id, published.second[0].id]
    assert [row["type"] for row in rows] == ["case.submitted", "case.concluded"]


def test_parquet_file_and_stdout_refused(
    published: Published, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "cases.parquet"

    to_stdout = zwbus(settings, "replay", "--format", "parquet")
    to_file = zwbus(settings, "replay", "--format", "parquet", "--out", str(out), "--until",
                    published.moment.isoformat())

    assert isinstance(to_stdout.exception, click.UsageError)
    assert "--format parquet needs a file" in str(to_stdout.exception)
    assert to_file.exception is None, to_file.output
    ids = pq.read_table(out).column("id").to_pylist()
    assert ids == [event.id for event in published.first]


def test_empty_window_names_stored_range(
    published: Published, settings: Settings, tmp_path: Path
) -> None:
    stored_day = published.moment.astimezone(CHINA_TIME).strftime("%Y-%m-%d")

    export = zwbus(settings, "replay", "--since", "2020-01-01", "--until", "2020-01-02",
                   "--out", str(tmp_path / "none.jsonl"))
    build = zwbus(settings, "replay", "--as-of", "2020-01-01", "--projection", "cases",
                  "--out", str(tmp_path / "none.sqlite"))

    for result in (export, build):
        assert result.exception is None, result.output
        assert "The messages of stream ZW_CASES were stored from " + stored_day in result.stderr
        assert "not by business time" in result.stderr
    assert "No message of stream ZW_CASES is inside the window." in export.stderr


def test_strict_fails_and_keeps_no_file(
    published: Published, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "strict.jsonl"

    result = zwbus(settings, "replay", "--strict", "--out", str(out))

    assert isinstance(result.exception, UndecodableMessageError)
    assert f"Message {published.bad_seq} on subject" in str(result.exception)
    assert list(tmp_path.iterdir()) == []


def test_as_of_builds_and_diff_compares(
    published: Published, settings: Settings, tmp_path: Path
) -> None:
    earlier, later = tmp_path / "earlier.sqlite", tmp_path / "later.sqlite"
    # Written without a zone, so it is read as Asia/Shanghai time.
    local_moment = published.moment.astimezone(CHINA_TIME).replace(tzinfo=None).isoformat()

    first = zwbus(settings, "replay", "--projection", "cases", "--as-of", local_moment,
                  "--out", str(earlier))
    second = zwbus(settings, "replay", "--projection", "cases", "--to-seq", "9", "--out",
                   str(later))
    again = zwbus(settings, "replay", "--projection", "cases", "--to-seq", "9", "--out",
                  str(later))
    differ = zwbus(settings, "replay", "diff", str(earlier), str(later), "--json")
    same = zwbus(settings, "replay", "diff", str(later), str(later))
    shown = zwbus(settings, "replay", "diff", str(earlier), str(later), "--sample", "1")

    assert first.exception is None, first.output
    assert "5 events applied" in first.stdout
    assert "checkpoint at sequence 5 of ZW_CASES" in first.stdout
    assert second.exception is None, second.output
    assert "set aside" in second.stdout
    assert "already exists" in str(again.exception)
    assert differ.return_value == 1
    document = msgspec.json.decode(differ.stdout)
    assert document["same"] is False
    cases = next(table for table in document["tables"] if table["table"] == "cases")
    assert (cases["added"], cases["removed"], cases["changed"]) == (0, 0, 1)
    assert cases["changed_sample"][0]["changes"]["status"] == ["accepted", "concluded"]
    assert same.return_value == 0
    assert "The stores are the same." in same.stdout
    assert "cases changed: code=C2: " in shown.stdout
    assert "status accepted → concluded" in shown.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--as-of", "2026-10-01", "--out", "x.sqlite"], "add --projection NAME"),
        (["--projection", "cases", "--to-seq", "3"], "needs --out FILE.sqlite"),
        (["--projection", "cases", "--as-of", "2026-10-01", "--region", "51", "--out", "x"],
         "up to --as-of or --to-seq: --region."),
        (["--force"], "apply only with --projection: --force."),
        (["--format", "csv", "diff", "a", "b"], "with a subcommand: --format."),
        (["--since", "yesterday"], "is not an ISO 8601 time"),
    ],
)
def test_usage_errors_explained(settings: Settings, arguments: list[str], message: str) -> None:
    result = zwbus(settings, "replay", *arguments)

    assert isinstance(result.exception, click.UsageError), result.output
    assert message in str(result.exception)


def test_live_store_not_overwritten(settings: Settings) -> None:
    live = settings.data_dir / "projections" / "cases.sqlite"

    result = zwbus(settings, "replay", "--projection", "cases", "--to-seq", "1", "--out",
                   str(live), "--force")

    assert isinstance(result.exception, click.UsageError)
    assert "is the live store of projection cases" in str(result.exception)


def test_subprocess_pipe_has_no_progress(published: Published, settings: Settings) -> None:
    result = run_zwbus(settings, "replay", "--key", "C1")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [msgspec.json.decode(line)["key"] for line in lines] == ["C1", "C1", "C1"]
    assert "3 events written, 0 undecodable" in result.stderr
    assert "\x1b[" not in result.stderr


def test_subprocess_help_in_chinese(settings: Settings) -> None:
    result = run_zwbus(settings, "--lang", "zh_CN", "replay", "--help")

    assert result.returncode == 0, result.stderr
    assert "把 stream 的历史回放为 JSON Lines" in result.stdout
    assert "读取的第一个 stream 序号。" in result.stdout


@pytest.mark.parametrize(
    "check",
    [
        test_catalogues.test_every_id_translated,
        test_catalogues.test_no_stale_ids,
        test_catalogues.test_placeholders_kept,
        test_catalogues.test_no_replacement_character,
    ],
)
def test_replay_catalogue(check: object) -> None:
    assert callable(check)
    check("replay")


def test_replay_catalogue_agrees_with_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_catalogues, "PACKAGES", (*test_catalogues.PACKAGES, "replay"))

    test_catalogues.test_shared_ids_translated_alike()


def test_export_masks_personal_fields(published: Published, settings: Settings) -> None:
    masked = zwbus(settings, "replay", "--type", "submitted")
    raw = zwbus(settings, "replay", "--type", "submitted", "--unmask")

    assert masked.exception is None, masked.output
    assert raw.exception is None, raw.output
    masked_ids = [msgspec.json.decode(line)["payload"]["applicant_id"]
                  for line in masked.stdout.splitlines()]
    raw_ids = [msgspec.json.decode(line)["payload"]["applicant_id"]
               for line in raw.stdout.splitlines()]
    assert raw_ids == [APPLICANT_ID] * len(raw_ids)
    assert masked_ids == [mask_identifier(APPLICANT_ID)] * len(raw_ids)
    assert APPLICANT_ID not in masked.stdout

"""Tests of the HTTP push gateway against a real nats-server and a real HTTP client.

Each test starts the gateway in the test's event loop on a free loopback
port, sends case, review and hall records as a department system would, and
checks the answers and what reached the streams.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import nats.js.errors
import pytest
from nats.js import JetStreamContext

from adapters.gateway.auth import signature
from adapters.gateway.config import GatewayConfig, load_gateway_config
from adapters.gateway.service import serve_gateway
from adapters.items import import_catalogue
from bus.errors import ConfigError
from bus.i18n import set_language
from bus.reader import read_stream
from bus.server import ServerInfo
from bus.settings import Settings
from bus.streams import CASES, HALL, PARKED, REVIEWS
from tests.adapters.family_helpers import (
    HALL_PROFILE,
    REVIEW_PROFILE,
    hall_row,
    review_row,
    write_text,
)
from tests.adapters.helpers import INVALID_ID, case_row, write_item_catalogue, write_profile
from tests.pausing import pause_server, resume_server

TOKEN = "token-of-the-ga-system"
SECRET = "secret-of-the-hall-system"
OTHER_REGION = "510104"


def write_config(
    folder: Path, *, rate: int = 1000, max_pending: int = 5000, families: bool = False
) -> Path:
    """Write the gateway configuration; with ``families`` sender ga also sends reviews and hall."""
    write_profile(folder / "profile.toml")
    profiles = 'case = "profile.toml"'
    if families:
        write_text(folder / "review.toml", REVIEW_PROFILE)
        write_text(folder / "hall.toml", HALL_PROFILE)
        profiles += ', review = "review.toml", hall = "hall.toml"'
    text = f"""
[gateway]
host = "127.0.0.1"
port = 0
max_pending_records = {max_pending}
batch_wait_ms = 5

[[gateway.clients]]
id = "ga"
token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"
regions = ["5116"]
departments = ["115113010833722043"]
rate = {rate}
burst = {rate}
profiles = {{ {profiles} }}

[[gateway.clients]]
id = "hall"
hmac_secret_env = "ZWBUS_TEST_GATEWAY_SECRET"
regions = ["511602"]
profiles = {{ case = "profile.toml" }}
"""
    path = folder / "zwbus.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Gateway:
    url: str
    http: aiohttp.ClientSession

    async def send(
        self,
        body: object,
        *,
        client: str = "ga",
        token: str = TOKEN,
        headers: Mapping[str, str] | None = None,
        family: str = "case",
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        sent = {"X-Zw-Client": client, "Authorization": f"Bearer {token}", **(headers or {})}
        async with self.http.post(
            f"{self.url}/v1/records/{family}", data=json.dumps(body), headers=sent
        ) as response:
            return response.status, await response.json(), response.headers

    async def send_signed(
        self, body: object, *, secret: str = SECRET, timestamp: int | None = None
    ) -> tuple[int, dict[str, object]]:
        data = json.dumps(body).encode()
        moment = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "X-Zw-Client": "hall",
            "X-Zw-Timestamp": moment,
            "X-Zw-Signature": signature(
                secret.encode(), moment, "POST", "/v1/records/case", data
            ),
        }
        async with self.http.post(
            f"{self.url}/v1/records/case", data=data, headers=headers
        ) as response:
            return response.status, await response.json()


async def _start(settings: Settings, config: GatewayConfig) -> AsyncIterator[Gateway]:
    bound: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve_gateway(settings, config, ready=lambda host, port: bound.set_result((host, port)))
    )
    try:
        host, port = await asyncio.wait_for(asyncio.shield(bound), 30)
        async with aiohttp.ClientSession() as http:
            yield Gateway(url=f"http://{host}:{port}", http=http)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def ready_settings(settings: Settings, tmp_path: Path) -> Settings:
    await import_catalogue(settings, write_item_catalogue(tmp_path / "items.json"))
    return settings


@pytest.fixture
def config_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZWBUS_TEST_GATEWAY_SECRET", SECRET)
    return write_config(tmp_path)


@pytest.fixture
async def gateway(ready_settings: Settings, config_path: Path) -> AsyncIterator[Gateway]:
    async for running in _start(ready_settings, load_gateway_config(config_path)):
        yield running


async def _case_events(js: JetStreamContext) -> list[str]:
    return [message.headers["Nats-Msg-Id"] async for message in read_stream(js, CASES)]


async def test_retried_batch_gives_duplicates(
    gateway: Gateway, bus: tuple[object, JetStreamContext]
) -> None:
    batch = [
        case_row("G1", "submitted", "2024-03-01 09:00:00"),
        case_row("G2", "submitted", "2024-03-01 09:05:00"),
        case_row("G1", "accepted", "2024-03-01 10:00:00"),
    ]

    first_status, first, _ = await gateway.send(batch)
    second_status, second, _ = await gateway.send(batch)

    assert (first_status, second_status) == (200, 200)
    assert [r["outcome"] for r in first["results"]] == ["stored"] * 3
    assert [r["outcome"] for r in second["results"]] == ["duplicate"] * 3
    assert [r["event_id"] for r in first["results"]] == [r["event_id"] for r in second["results"]]
    assert [r["seq"] for r in first["results"]] == [r["seq"] for r in second["results"]]
    assert len(await _case_events(bus[1])) == 3


async def test_quarantined_reason_has_message_in_screen_language(gateway: Gateway) -> None:
    rejected = case_row("Q9", "submitted", "2024-03-02 09:00:00", id_no=INVALID_ID)

    _status, english, _ = await gateway.send(rejected)
    set_language("zh_CN")
    _status, chinese, _ = await gateway.send(rejected)

    english_reason = english["results"][0]["reasons"][0]
    chinese_reason = chinese["results"][0]["reasons"][0]
    assert english_reason["message"].startswith("[id_card_invalid] Resident ID card number")
    assert chinese_reason["message"].startswith("[id_card_invalid] 字段 id_no 的居民身份证号码")
    assert "校验位为" in chinese_reason["message"]
    assert "check character" not in chinese_reason["message"]
    assert chinese_reason["detail"] == english_reason["detail"]
    assert chinese_reason["detail"].startswith("check character is")


async def test_outcome_per_record(gateway: Gateway) -> None:
    batch = [
        case_row("P1", "accepted", "2024-03-02 10:00:00"),
        case_row("Q1", "submitted", "2024-03-02 09:00:00", id_no=INVALID_ID),
        case_row("S1", "submitted", "2024-03-02 09:00:00"),
    ]

    status, answer, _ = await gateway.send(batch)

    assert status == 200
    results = answer["results"]
    assert [r["outcome"] for r in results] == ["parked", "quarantined", "stored"]
    assert results[0]["waiting_for"] == ["case.submitted"]
    assert results[1]["reasons"][0]["code"] == "id_card_invalid"
    assert answer["totals"] == {"parked": 1, "quarantined": 1, "stored": 1}

    status, again, _ = await gateway.send(batch[0])
    assert status == 200
    assert again["results"] == [results[0]], "a record sent again while it waits stays parked"

    status, answer, _ = await gateway.send(case_row("P1", "submitted", "2024-03-02 09:00:00"))
    assert status == 200
    assert answer["results"][0]["outcome"] == "stored"


async def test_record_outside_rights_gets_403(
    gateway: Gateway, bus: tuple[object, JetStreamContext]
) -> None:
    batch = [
        case_row("R1", "submitted", "2024-03-01 09:00:00"),
        case_row("R2", "submitted", "2024-03-01 09:00:00", area=OTHER_REGION),
        case_row("R3", "submitted", "2024-03-01 09:00:00", dept="11510100MB0000000X"),
    ]

    status, answer, _ = await gateway.send(batch)

    assert status == 403
    assert answer["error"] == "outside_rights"
    rejected = answer["rejected"]
    assert [(r["index"], r["value"]) for r in rejected] == [
        (1, OTHER_REGION),
        (2, "11510100MB0000000X"),
    ]
    assert await _case_events(bus[1]) == []


async def test_wrong_credentials_get_401(gateway: Gateway) -> None:
    record = case_row("A1", "submitted", "2024-03-01 09:00:00")

    wrong_token, answer, _ = await gateway.send(record, token="guess")
    unknown_sender, _, _ = await gateway.send(record, client="nobody")
    bad_signature, _ = await gateway.send_signed(record, secret="another secret")
    stale, stale_answer = await gateway.send_signed(record, timestamp=int(time.time()) - 3600)

    assert (wrong_token, unknown_sender, bad_signature, stale) == (401, 401, 401, 401)
    assert answer["error"] == "unauthenticated"
    assert "five minutes" in str(stale_answer["message"])


async def test_signed_request_accepted(gateway: Gateway) -> None:
    status, answer = await gateway.send_signed(case_row("H1", "submitted", "2024-03-01 09:00:00"))

    assert status == 200
    assert answer["results"][0]["outcome"] == "stored"


async def test_rate_limit_gets_429(
    ready_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZWBUS_TEST_GATEWAY_SECRET", SECRET)
    config = load_gateway_config(write_config(tmp_path, rate=3))
    async for gateway in _start(ready_settings, config):
        rows = [case_row(f"L{i}", "submitted", "2024-03-01 09:00:00") for i in range(3)]
        first, _, _ = await gateway.send(rows)
        second, answer, headers = await gateway.send(case_row("L9", "submitted", "2024-03-01"))

        assert first == 200
        assert second == 429
        assert answer["error"] == "rate_limited"
        assert int(headers["Retry-After"]) >= 1


async def test_overload_rejects_without_loss(
    ready_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bus: tuple[object, JetStreamContext],
) -> None:
    monkeypatch.setenv("ZWBUS_TEST_GATEWAY_SECRET", SECRET)
    config = load_gateway_config(write_config(tmp_path, max_pending=20))
    async for gateway in _start(ready_settings, config):
        batches = [
            [case_row(f"B{n}-{i}", "submitted", "2024-03-01 09:00:00") for i in range(10)]
            for n in range(12)
        ]
        answers = await asyncio.gather(*(gateway.send(batch) for batch in batches))

    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {200, 503}
    assert 503 in statuses, "twelve concurrent batches of ten must exceed a bound of 20"
    assert 200 in statuses
    for status, answer, headers in answers:
        if status == 503:
            assert answer["error"] == "overloaded"
            assert int(headers["Retry-After"]) >= 1
    taken = {
        result["event_id"]
        for status, answer, _ in answers
        if status == 200
        for result in answer["results"]
    }
    assert set(await _case_events(bus[1])) == taken
    assert len(taken) == 10 * statuses.count(200)


async def test_stalled_bus_rejects_new_work(
    ready_settings: Settings,
    nats_server: ServerInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bus: tuple[object, JetStreamContext],
) -> None:
    monkeypatch.setenv("ZWBUS_TEST_GATEWAY_SECRET", SECRET)
    config = load_gateway_config(write_config(tmp_path, max_pending=20))
    async for gateway in _start(ready_settings, config):
        taken = [
            [case_row(f"T{n}-{i}", "submitted", "2024-03-01 09:00:00") for i in range(10)]
            for n in range(2)
        ]
        pause_server(nats_server.pid)
        try:
            sending = [asyncio.create_task(gateway.send(batch)) for batch in taken]
            for _attempt in range(100):
                async with gateway.http.get(f"{gateway.url}/healthz") as response:
                    if (await response.json())["pending_records"] == 20:
                        break
                await asyncio.sleep(0.05)
            refused, answer, headers = await gateway.send(
                case_row("T9", "submitted", "2024-03-01 09:00:00")
            )
        finally:
            resume_server(nats_server.pid)
        answers = await asyncio.gather(*sending)

    assert (refused, answer["error"]) == (503, "overloaded")
    assert int(headers["Retry-After"]) >= 1
    assert [status for status, _, _ in answers] == [200, 200]
    stored = {r["event_id"] for _, body, _ in answers for r in body["results"]}
    assert len(stored) == 20
    assert set(await _case_events(bus[1])) == stored


async def test_openapi_and_health_served(gateway: Gateway) -> None:
    async with gateway.http.get(f"{gateway.url}/openapi.json") as response:
        document = await response.json()
    async with gateway.http.get(f"{gateway.url}/healthz") as response:
        health = await response.json()

    assert document["openapi"].startswith("3.")
    assert "/v1/records/{family}" in document["paths"]
    responses = document["paths"]["/v1/records/{family}"]["post"]["responses"]
    assert {"200", "401", "403", "429", "503"} <= set(responses)
    assert health["bus"] == "connected"


async def test_non_record_body_gets_400(gateway: Gateway) -> None:
    status, answer, _ = await gateway.send("just a string")

    assert status == 400
    assert answer["error"] == "bad_body"


def test_sender_without_credentials_rejected(tmp_path: Path) -> None:
    write_profile(tmp_path / "profile.toml")
    path = tmp_path / "zwbus.toml"
    path.write_text(
        '[[gateway.clients]]\nid = "ga"\nprofiles = { case = "profile.toml" }\n',
        encoding="utf-8",
    )

    with pytest.raises(ConfigError, match="token_sha256 or hmac_secret_env"):
        load_gateway_config(path)


def test_missing_secret_variable_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZWBUS_TEST_GATEWAY_SECRET", raising=False)

    with pytest.raises(ConfigError, match="ZWBUS_TEST_GATEWAY_SECRET"):
        load_gateway_config(write_config(tmp_path))


# Review and hall senders ---------------------------------------------------------


@pytest.fixture
async def family_gateway(
    ready_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    """The gateway with sender ga sending cases, reviews and hall records."""
    monkeypatch.setenv("ZWBUS_TEST_GATEWAY_SECRET", SECRET)
    config = load_gateway_config(write_config(tmp_path, families=True))
    async for running in _start(ready_settings, config):
        yield running


async def _stream_ids(js: JetStreamContext, stream: str) -> list[str]:
    return [(message.headers or {})["Nats-Msg-Id"] async for message in read_stream(js, stream)]


async def _parked_keys(js: JetStreamContext, lane: str) -> list[str]:
    bucket = await js.key_value(PARKED)
    try:
        return [key for key in await bucket.keys() if key.startswith(f"{lane}.")]
    except nats.js.errors.NoKeysError:
        return []


async def test_rating_parked_until_case_sent(
    family_gateway: Gateway, bus: tuple[object, JetStreamContext]
) -> None:
    """A rating of an unknown case is parked; sent again after its case, it is stored."""
    rating = review_row("GR1", "rated", "2024-03-02 10:00:00")

    first_status, first, _ = await family_gateway.send(rating, family="review")
    parked = await _parked_keys(bus[1], "review")
    case_status, case_answer, _ = await family_gateway.send(
        case_row("GR1", "submitted", "2024-03-01 09:00:00")
    )
    again_status, again, _ = await family_gateway.send(rating, family="review")
    third_status, third, _ = await family_gateway.send(rating, family="review")

    assert (first_status, case_status, again_status, third_status) == (200, 200, 200, 200)
    (waiting,) = first["results"]
    assert waiting["outcome"] == "parked"
    assert waiting["waiting_for"] == ["case"]
    assert first["totals"] == {"parked": 1}
    assert len(parked) == 1
    assert case_answer["totals"] == {"stored": 1}
    (stored,) = again["results"]
    assert stored["outcome"] == "stored"
    assert stored["event_id"] != waiting["event_id"], "a parked record has no event id yet"
    (repeated,) = third["results"]
    assert repeated == {
        "outcome": "duplicate",
        "event_id": stored["event_id"],
        "seq": stored["seq"],
    }
    assert await _stream_ids(bus[1], REVIEWS) == [stored["event_id"]]
    assert await _parked_keys(bus[1], "review") == [], "the stored rating is no longer parked"


async def test_hall_records_stored(
    family_gateway: Gateway, bus: tuple[object, JetStreamContext]
) -> None:
    booking = hall_row("booking_created", "2024-03-01 08:00:00", booking="GB1")
    ticket = hall_row("ticket_issued", "2024-03-01 08:55:00", ticket="GT1", booking="GB1")
    called = hall_row("ticket_called", "2024-03-01 09:00:00", ticket="GT9")

    status, answer, _ = await family_gateway.send([ticket, booking], family="hall")
    called_status, called_answer, _ = await family_gateway.send(called, family="hall")
    _status, called_again, _ = await family_gateway.send(called, family="hall")

    assert status == 200
    assert [result["outcome"] for result in answer["results"]] == ["stored", "stored"]
    assert called_status == 200
    assert called_answer["results"][0]["outcome"] == "parked"
    assert called_answer["results"][0]["waiting_for"] == ["hall.ticket_issued"]
    assert called_again["results"] == called_answer["results"], "still waiting, not a duplicate"
    stored = {result["event_id"] for result in answer["results"]}
    assert set(await _stream_ids(bus[1], HALL)) == stored

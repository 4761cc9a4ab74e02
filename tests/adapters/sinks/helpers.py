"""Events, configuration files and a real HTTP receiver for the sink tests."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from nats.aio.client import Client

from adapters.sinks.config import SinksConfig, load_sinks_config
from adapters.sinks.lane import SinkSummary
from adapters.sinks.runner import run_sinks
from bus import server
from bus.publisher import Publisher
from bus.settings import Settings
from contracts.envelope import Envelope, Source, encode_event, make_envelope
from contracts.ids import new_event_id
from contracts.item import ItemPublished
from contracts.subjects import entity_subject
from tests.projections.helpers import at, case_event

COUNTY = "511602"
"""广安区."""
OTHER_COUNTY = "511621"
"""岳池县, in the same city (5116)."""
OTHER_CITY = "510104"
"""成都市锦江区, in another city of the same province."""
POLICE = "11511602MB1234567X"
TAX = "11511602MB7654321Y"
WAIT_S = 60.0
ZWBUS = Path(sys.executable).parent / "zwbus"


@dataclass(frozen=True)
class Published:
    """One message put on the bus for a test: its event id and the bytes sent."""

    id: str
    subject: str
    data: bytes


def case(
    code: str,
    kind: str = "submitted",
    *,
    region: str = COUNTY,
    department: str = POLICE,
) -> Envelope:
    """Build a case event of ``kind`` for case ``code``."""
    event = case_event(kind, code, at("2026-10-12", "09:00"), region=region)
    return msgspec.structs.replace(event, department=department)


def item(code: str, *, region: str = COUNTY, department: str = POLICE) -> Envelope:
    """Build an item.published event of implementation code ``code``."""
    payload = ItemPublished(
        item_code=code,
        name="户口迁移审批",
        basic_code="000138000000",
        department_code=department,
        department_name="广安区公安分局",
        item_type="1",
        region12=region + "000000",
    )
    moment = at("2026-10-01")
    return make_envelope(
        payload,
        id=new_event_id(),
        occurred_at=moment,
        recorded_at=moment + timedelta(minutes=1),
        source=Source(adapter="test", system="CATALOGUE"),
        region=region,
        department=department,
        key=code,
        correlation_id=code,
    )


def review(review_id: str, *, region: str = COUNTY, department: str = POLICE) -> Published:
    """Build a review envelope as raw JSON: the review family has no payload contract yet."""
    envelope = {
        "id": new_event_id(),
        "type": "review.rated",
        "version": 1,
        "occurred_at": "2026-10-12T10:00:00+08:00",
        "recorded_at": "2026-10-12T10:01:00+08:00",
        "source": {"adapter": "test", "system": "HCP"},
        "region": region,
        "department": department,
        "key": review_id,
        "correlation_id": review_id,
        "payload": {"level": 5, "channel": "window"},
    }
    data = json.dumps(envelope, ensure_ascii=False).encode()
    return Published(str(envelope["id"]), entity_subject("review", region, review_id), data)


def as_published(events: Iterable[Envelope]) -> list[Published]:
    """Return the messages that carry ``events``, on their family's subject."""
    return [
        Published(
            event.id,
            entity_subject(event.type.split(".", 1)[0], event.region, event.key),
            encode_event(event),
        )
        for event in events
    ]


async def publish(client: Client, messages: Iterable[Published | Envelope]) -> list[Published]:
    """Publish events or prepared messages in order; return what was published."""
    prepared = [
        message if isinstance(message, Published) else as_published([message])[0]
        for message in messages
    ]
    async with Publisher(client) as publisher:
        futures = [
            await publisher.publish(message.subject, message.data, {"Nats-Msg-Id": message.id})
            for message in prepared
        ]
        acks = [await future for future in futures]
    for ack in acks:
        assert ack.ok, ack.error
    return prepared


def write_config(path: Path, text: str) -> Path:
    """Write a sink configuration file and return its path."""
    path.write_text(text, encoding="utf-8")
    return path


def http_sink(sink_id: str, url: str, **settings: Any) -> str:
    """Return a ``[[sink]]`` table of an HTTP sink with a fast back-off for tests."""
    lines = [
        "[[sink]]",
        f'id = "{sink_id}"',
        'target = "http"',
        f'url = "{url}"',
        f"batch_size = {settings.pop('batch_size', 10)}",
        f"max_attempts = {settings.pop('max_attempts', 3)}",
        f"timeout_s = {settings.pop('timeout_s', 5.0)}",
    ]
    lines += _filter_and_rest(settings)
    lines += ["[sink.backoff]", "initial_s = 0.01", "max_s = 0.05"]
    return "\n".join(lines) + "\n"


def file_sink(sink_id: str, directory: Path, **settings: Any) -> str:
    """Return a ``[[sink]]`` table of a file sink."""
    lines = [
        "[[sink]]",
        f'id = "{sink_id}"',
        'target = "file"',
        f"directory = {json.dumps(str(directory))}",
        f'format = "{settings.pop("format", "jsonl")}"',
        f"batch_size = {settings.pop('batch_size', 50)}",
    ]
    rotation = settings.pop("rotation", None)
    lines += _filter_and_rest(settings)
    if rotation is not None:
        lines.append("[sink.rotation]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in rotation.items()]
    return "\n".join(lines) + "\n"


def _filter_and_rest(settings: dict[str, Any]) -> list[str]:
    chosen = settings.pop("filter", {})
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    if chosen:
        lines.append("[sink.filter]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in chosen.items()]
    return lines


async def run_once(
    settings: Settings, config: SinksConfig | Path, *sink_ids: str
) -> list[SinkSummary]:
    """Run sinks in this process until they have caught up; return their summaries."""
    loaded = config if isinstance(config, SinksConfig) else load_sinks_config(config)
    return await asyncio.wait_for(
        run_sinks(settings, loaded, asyncio.Event(), sink_ids=sink_ids, until_caught_up=True),
        WAIT_S,
    )


def jsonl_ids(folder: Path, pattern: str = "*.jsonl") -> list[str]:
    """Return the event ids of every line of the matching files, in name and line order."""
    ids: list[str] = []
    for path in sorted(folder.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            ids.append(json.loads(line)["id"])
    return ids


@dataclass
class Received:
    """What the receiver saw: one entry per request, accepted or not."""

    keys: list[str]
    """Idempotency keys of the request, split at commas, in field order."""
    body_ids: list[str]
    status: int


@dataclass
class Receiver:
    """An aiohttp endpoint on a free loopback port that records every request.

    The first ``fail_first`` requests get 503, a request that contains an
    id of ``reject_ids`` gets 422, and with ``fail_all`` every request gets 503.
    """

    fail_first: int = 0
    reject_ids: set[str] = field(default_factory=set)
    fail_all: bool = False
    requests: list[Received] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    """Ids of accepted events, in arrival order, repeats included."""
    url: str = ""
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/events", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = server.free_port()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{port}/events"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        keys = [
            key.strip()
            for field_line in request.headers.getall("Idempotency-Key", [])
            for key in field_line.split(",")
        ]
        body_ids = [event["id"] for event in body]
        status = self._status(body_ids)
        async with self._changed:
            self.requests.append(Received(keys, body_ids, status))
            if status == 200:
                self.accepted.extend(body_ids)
            self._changed.notify_all()
        return web.Response(status=status, text="ok" if status == 200 else "no")

    def _status(self, body_ids: list[str]) -> int:
        if self.fail_all or len(self.requests) < self.fail_first:
            return 503
        if self.reject_ids.intersection(body_ids):
            return 422
        return 200

    @property
    def distinct(self) -> set[str]:
        return set(self.accepted)

    @property
    def repeats(self) -> Counter[str]:
        counts = Counter(self.accepted)
        return Counter({key: count - 1 for key, count in counts.items() if count > 1})

    async def wait_accepted(self, count: int, timeout_s: float = WAIT_S) -> None:
        """Wait until at least ``count`` events were accepted."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.accepted) >= count), timeout_s
            )

    async def wait_requests(self, count: int, timeout_s: float = WAIT_S) -> None:
        """Wait until at least ``count`` requests arrived, accepted or not."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.requests) >= count), timeout_s
            )


def zwbus_command(settings: Settings, *arguments: str, lang: str = "en") -> list[str]:
    """Return the argument list of a ``zwbus`` run against the test server and folder."""
    assert settings.nats_url is not None
    return [
        str(ZWBUS),
        "--lang",
        lang,
        "--nats-url",
        settings.nats_url,
        "--data-dir",
        str(settings.data_dir),
        *arguments,
    ]


def zwbus_environment(fault: str | None = None) -> dict[str, str]:
    """Return the environment of a ``zwbus`` subprocess: no ZWBUS_ variable but ``fault``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZWBUS_")}
    # rich folds table cells to the terminal width, 80 columns without a terminal.
    env["COLUMNS"] = "240"
    if fault is not None:
        env["ZWBUS_SINK_FAULT"] = fault
    return env


async def zwbus(
    settings: Settings, *arguments: str, fault: str | None = None, lang: str = "en"
) -> tuple[int, str, str]:
    """Run ``zwbus`` to completion (at most ``WAIT_S``); return exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        *zwbus_command(settings, *arguments, lang=lang),
        env=zwbus_environment(fault),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), WAIT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return int(process.returncode or 0), stdout.decode(), stderr.decode()

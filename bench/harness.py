"""Shared machinery of the named benchmark scenarios of ``zwbus bench run``.

A scenario times our code path ("ours") against a bare nats-py baseline in
the same run, on servers started here on free loopback ports and removed
afterwards. Each run gives one ratio of events per second, ours over the
baseline's. A scenario reports the median, minimum and maximum of those
ratios, the rates behind them, and the resident memory seen while the
events passed. ``run_benchmark`` runs several scenarios and returns one
JSON-ready document; ``write_results`` stores it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus import server
from bus.publisher import PubAck
from bus.streams import ensure_streams

log = structlog.get_logger(__name__)

MIB = 1024 * 1024
SAMPLE_INTERVAL_S = 0.02
"""Time between two readings of resident memory while a side runs."""
FLAT_TOLERANCE_BYTES = 8 * MIB
"""Growth of peak memory from the first to the second half of a pass still counted as flat."""
FLAT_TOLERANCE_SHARE = 0.05
"""The same tolerance as a share of the first half's peak, used when it is larger."""


# --- resident memory --------------------------------------------------------


def _status_field(pid: int | str, name: str) -> int | None:
    """Return a ``kB`` field of ``/proc/<pid>/status`` in bytes, or None when unreadable."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    return None


def _helper_rss(server_pid: int | None) -> int:
    """Return the resident memory of this process's child processes other than the server.

    A Parquet replay writes through a child process, whose memory belongs
    to the pass as much as this process's does. A child that has not yet
    replaced its program still shares this process's pages, which its
    ``VmRSS`` counts again, so it is left out until it has.
    """
    own_command = _command_line("self")
    total = 0
    for task in Path("/proc/self/task").glob("*/children"):
        try:
            pids = task.read_text(encoding="ascii").split()
        except OSError:
            continue
        for pid in pids:
            if int(pid) == server_pid or _command_line(pid) == own_command:
                continue
            total += _status_field(pid, "VmRSS") or 0
    return total


def _command_line(pid: int | str) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def _reset_high_water_mark() -> bool:
    """Reset this process's ``VmHWM`` (Linux 4.0 and later); return whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Side:
    """One timed pass of one side of a scenario."""

    events: int
    seconds: float
    peak_rss: int
    """Highest resident memory of this process and its helper processes during the pass, in bytes.

    Helper processes are the children other than the server, such as the
    Parquet writer of a replay.
    """
    start_rss: int
    """Resident memory of this process when the pass began, in bytes."""
    server_peak_rss: int
    """Highest resident memory of the nats-server process during the pass, 0 if unknown."""
    flat: bool
    """Whether the peak of the pass's second half stayed within tolerance of its first half."""

    @property
    def rate(self) -> float:
        """Events per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def document(self) -> dict[str, Any]:
        """Return the pass as JSON-ready values (memory in MiB)."""
        return {
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_s": round(self.rate, 1),
            "peak_rss_mib": round(self.peak_rss / MIB, 1),
            "rss_growth_mib": round((self.peak_rss - self.start_rss) / MIB, 1),
            "server_peak_rss_mib": round(self.server_peak_rss / MIB, 1),
            "memory_flat": self.flat,
        }


class Meter:
    """Time a pass and sample resident memory in a thread; use as ``with Meter(pid) as m``.

    After the block, ``side(events)`` returns the ``Side``. The sampling
    thread reads ``/proc`` every ``SAMPLE_INTERVAL_S``. The peak also takes
    the kernel's ``VmHWM``, which is reset when the pass begins, so a spike
    between two samples is not missed.
    """

    def __init__(self, server_pid: int | None = None) -> None:
        self._server_pid = server_pid
        self._samples: list[tuple[float, int]] = []
        self._server_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)
        self._hwm_reset = False
        self._started = 0.0
        self._seconds = 0.0
        self._start_rss = 0

    def __enter__(self) -> Self:
        self._start_rss = _status_field("self", "VmRSS") or 0
        self._hwm_reset = _reset_high_water_mark()
        self._thread.start()
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._seconds = time.perf_counter() - self._started
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            rss = _status_field("self", "VmRSS")
            if rss is not None:
                rss += _helper_rss(self._server_pid)
                self._samples.append((time.perf_counter(), rss))
            if self._server_pid is not None:
                server_rss = _status_field(self._server_pid, "VmRSS") or 0
                self._server_peak = max(self._server_peak, server_rss)
            if self._stop.wait(SAMPLE_INTERVAL_S):
                return

    def side(self, events: int) -> Side:
        """Return the measured pass of ``events`` events."""
        sampled = [rss for _, rss in self._samples] or [self._start_rss]
        peak = max(sampled)
        if self._hwm_reset:
            peak = max(peak, _status_field("self", "VmHWM") or 0)
        return Side(
            events=events,
            seconds=self._seconds,
            peak_rss=peak,
            start_rss=self._start_rss,
            server_peak_rss=self._server_peak,
            flat=self._is_flat(),
        )

    def _is_flat(self) -> bool:
        if len(self._samples) < 4:
            return True
        middle = self._started + self._seconds / 2
        first = [rss for moment, rss in self._samples if moment <= middle]
        second = [rss for moment, rss in self._samples if moment > middle]
        if not first or not second:
            return True
        tolerance = max(FLAT_TOLERANCE_BYTES, int(max(first) * FLAT_TOLERANCE_SHARE))
        return max(second) - max(first) <= tolerance


# --- servers and connections -------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_server(parent: Path, name: str) -> AsyncIterator[server.ServerInfo]:
    """Start a nats-server with an empty store in ``parent/name``; stop and remove it after."""
    folder = parent / name
    info = server.start(folder, port=server.free_port())
    try:
        yield info
    finally:
        server.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def connected(url: str) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    """Connect a plain nats-py client, apply the declared streams, and drain it after."""
    client = await nats.connect(url, name="zwbus-bench", max_reconnect_attempts=0)
    try:
        js = client.jetstream()
        await ensure_streams(js)
        yield client, js
    finally:
        await client.drain()


async def in_turn(
    run: int,
    ours: Callable[[], Awaitable[None]],
    baseline: Callable[[], Awaitable[None]],
) -> None:
    """Run both sides, ours first in even runs and the baseline first in odd ones."""
    if run % 2 == 0:
        await ours()
        await baseline()
    else:
        await baseline()
        await ours()


# --- scenarios and their results --------------------------------------------


@dataclass(frozen=True)
class RunMeasurement:
    """One run of a scenario: the baseline's pass and one pass per variant of ours."""

    baseline: Side
    ours: dict[str, Side]


Measure = Callable[[int, Path, int], Awaitable[RunMeasurement]]
"""``measure(run, folder, events)``: one run of a scenario in an empty folder."""


@dataclass(frozen=True)
class Scenario:
    """A named comparison of ours against a baseline, with its sizes and target."""

    name: str
    description: str
    baseline: str
    """Short description of the baseline."""
    variants: dict[str, str]
    """Short description of ours per variant name; most scenarios have one variant."""
    full_events: int
    quick_events: int
    target: float | None
    """Minimum median ratio, or None where the ratio is only reported."""
    measure: Measure


def spread(values: Sequence[float], digits: int) -> dict[str, float]:
    """Return the median, minimum and maximum of ``values``, rounded to ``digits``."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


@dataclass
class ScenarioResult:
    """All runs of one variant of one scenario."""

    scenario: Scenario
    variant: str
    runs: list[tuple[Side, Side]] = field(default_factory=list)
    """Pairs of (ours, baseline) passes, one per run."""

    @property
    def ratios(self) -> list[float]:
        """Ours over baseline in events per second, one per run."""
        return [ours.rate / baseline.rate for ours, baseline in self.runs]

    @property
    def label(self) -> str:
        """Scenario name, with the variant when the scenario has several."""
        if len(self.scenario.variants) == 1:
            return self.scenario.name
        return f"{self.scenario.name} {self.variant}"

    @property
    def met(self) -> bool | None:
        """Whether the median ratio reaches the target; None without a target."""
        if self.scenario.target is None:
            return None
        return statistics.median(self.ratios) >= self.scenario.target

    def document(self) -> dict[str, Any]:
        """Return the variant's runs and summary as JSON-ready values."""
        ours = [pair[0] for pair in self.runs]
        baseline = [pair[1] for pair in self.runs]
        return {
            "name": self.label,
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "variant": self.variant,
            "ours": self.scenario.variants[self.variant],
            "baseline": self.scenario.baseline,
            "events": ours[0].events,
            "target": self.scenario.target,
            "met": self.met,
            "ratio": spread(self.ratios, 3),
            "ours_events_per_s": spread([side.rate for side in ours], 1),
            "baseline_events_per_s": spread([side.rate for side in baseline], 1),
            "memory": {
                "peak_rss_mib": round(max(side.peak_rss for side in ours) / MIB, 1),
                "rss_growth_mib": round(
                    max(side.peak_rss - side.start_rss for side in ours) / MIB, 1
                ),
                "server_peak_rss_mib": round(max(side.server_peak_rss for side in ours) / MIB, 1),
                "flat": all(side.flat for side in ours),
            },
            "runs": [
                {"ours": pair[0].document(), "baseline": pair[1].document(), "ratio": round(r, 3)}
                for pair, r in zip(self.runs, self.ratios, strict=True)
            ],
        }


async def run_scenario(
    scenario: Scenario, *, runs: int, events: int, work_dir: Path | None = None
) -> list[ScenarioResult]:
    """Run ``scenario`` ``runs`` times with ``events`` events; return one result per variant."""
    results = {variant: ScenarioResult(scenario, variant) for variant in scenario.variants}
    root = Path(tempfile.mkdtemp(prefix=f"zwbus-bench-{scenario.name}-", dir=work_dir))
    try:
        for run in range(runs):
            folder = root / f"run{run}"
            folder.mkdir()
            log.info("bench_run_started", scenario=scenario.name, run=run + 1, events=events)
            measurement = await scenario.measure(run, folder, events)
            for variant, result in results.items():
                result.runs.append((measurement.ours[variant], measurement.baseline))
            log.info(
                "bench_run_finished",
                scenario=scenario.name,
                run=run + 1,
                ratios={name: round(r.ratios[-1], 3) for name, r in results.items()},
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return list(results.values())


def _server_version() -> str:
    try:
        completed = subprocess.run(
            [str(server.find_binary()), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return completed.stdout.strip() or "unknown"


def machine() -> dict[str, Any]:
    """Return the facts about this machine and its software that the figures depend on."""
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count() or 0,
        "memory_gib": round(_total_memory(), 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nats_server": _server_version(),
        "nats_py": version("nats-py"),
    }


def _total_memory() -> float:
    try:
        text = Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / (1024 * 1024)
    return 0.0


async def run_benchmark(
    scenarios: Sequence[Scenario],
    *,
    runs: int,
    quick: bool,
    events: dict[str, int] | None = None,
    work_dir: Path | None = None,
    on_scenario: Callable[[Scenario, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``scenarios`` in order and return the results document.

    ``events`` overrides the number of events of a scenario by name;
    otherwise ``quick`` picks each scenario's quick size over its full size.
    """
    started = time.perf_counter()
    documents: list[dict[str, Any]] = []
    for scenario in scenarios:
        count = (events or {}).get(
            scenario.name, scenario.quick_events if quick else scenario.full_events
        )
        if on_scenario is not None:
            on_scenario(scenario, count)
        for result in await run_scenario(scenario, runs=runs, events=count, work_dir=work_dir):
            documents.append(result.document())
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
        "scenarios": documents,
    }


def write_results(document: dict[str, Any], path: Path) -> None:
    """Write the results document to ``path`` as indented UTF-8 JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


CHECK_LAG = 4096
"""Acknowledgements left outstanding before the oldest is checked and dropped.

Checking as the pass goes, instead of keeping every future until the end,
keeps the benchmark's own bookkeeping out of the memory it measures.
"""


def require_stored(ack: PubAck) -> None:
    """Raise unless the windowed publisher's acknowledgement reports a newly stored message."""
    if not ack.ok or ack.duplicate:
        raise RuntimeError(f"windowed publish not stored: {ack}")


class AckChecker:
    """Keep the newest ``CHECK_LAG`` publish futures and check the older ones as they leave."""

    def __init__(self, check: Callable[[Any], None]) -> None:
        self._check = check
        self._futures: deque[asyncio.Future[Any]] = deque()
        self.checked = 0

    async def add(self, future: asyncio.Future[Any]) -> None:
        """Hold ``future``; wait for and check the oldest one when more than the lag are held."""
        self._futures.append(future)
        if len(self._futures) > CHECK_LAG:
            self._check(await self._futures.popleft())
            self.checked += 1

    async def finish(self) -> int:
        """Wait for and check every future still held; return how many were checked in all."""
        while self._futures:
            self._check(await self._futures.popleft())
            self.checked += 1
        return self.checked


async def publish_all(
    client: Client,
    events: Sequence[tuple[str, bytes, str]],
    *,
    headers: dict[str, str] | None = None,
    with_msg_id: bool = True,
) -> None:
    """Publish ``events`` through the windowed publisher and check every acknowledgement.

    Each message carries ``headers`` plus, with ``with_msg_id``, its
    ``Nats-Msg-Id``; with neither it is published without headers.

    Raises:
        RuntimeError: the server returned an error for a publish.
    """
    from bus.publisher import Publisher

    async with Publisher(client) as publisher:
        futures = []
        for subject, data, msg_id in events:
            message_headers = dict(headers or {})
            if with_msg_id:
                message_headers["Nats-Msg-Id"] = msg_id
            futures.append(await publisher.publish(subject, data, message_headers or None))
        for future in futures:
            ack = await future
            if not ack.ok:
                raise RuntimeError(f"publish rejected: {ack.error_code} {ack.error}")

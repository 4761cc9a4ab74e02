"""Subject cardinality: the same publish over one subject against one subject per case.

Both sides publish ``N`` copies of one ~1.1 KB case event through
``bus.publisher.Publisher``, each with its own ``Nats-Msg-Id``, into a
fresh server of their own. Ours gives every message its own case subject
(``zw.case.51.16.02.<key>``, N distinct subjects), the baseline sends all
of them to one subject. The ratio is what a million cases cost the
publisher and the server; the server's peak resident memory is reported
beside it.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import (
    AckChecker,
    Meter,
    RunMeasurement,
    Scenario,
    Side,
    connected,
    fresh_server,
    in_turn,
    require_stored,
)
from bench.scenarios._events import REGION, case_event, case_key
from bus.publisher import Publisher
from contracts.subjects import entity_subject


async def _publish(folder: Path, name: str, subjects: list[str], payload: bytes, run: int) -> Side:
    async with fresh_server(folder, name) as info, connected(info.url) as (client, _js):
        async with Publisher(client) as publisher:
            checker = AckChecker(require_stored)
            with Meter(info.pid) as meter:
                for index, subject in enumerate(subjects):
                    headers = {"Nats-Msg-Id": f"{run:02d}-{index:012d}-{name}"}
                    await checker.add(await publisher.publish(subject, payload, headers))
                checked = await checker.finish()
        return meter.side(checked)


async def measure(run: int, folder: Path, count: int) -> RunMeasurement:
    """Publish ``count`` events to ``count`` case subjects and to one subject."""
    single, payload, _ = case_event(run, 0)
    distinct = [entity_subject("case", REGION, case_key(run, case)) for case in range(count)]
    sides: dict[str, Side] = {}

    async def ours() -> None:
        sides["ours"] = await _publish(folder, "distinct", distinct, payload, run)

    async def baseline() -> None:
        sides["baseline"] = await _publish(folder, "single", [single] * count, payload, run)

    await in_turn(run, ours, baseline)
    return RunMeasurement(baseline=sides["baseline"], ours={"distinct": sides["ours"]})


SCENARIO = Scenario(
    name="cardinality",
    description="windowed publish to N case subjects vs one subject",
    baseline="windowed publish, one subject",
    variants={"distinct": "windowed publish, one subject per case"},
    full_events=1_000_000,
    quick_events=50_000,
    target=None,
    measure=measure,
)

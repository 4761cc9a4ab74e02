"""Draw the demo's cases: source, submission time, item, applicant and flow of each."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

from bench.demo._calendar import MINUTES_PER_DAY, WorkingCalendar
from bench.demo._catalogue import DemoItem
from bench.demo._flows import (
    CaseRecord,
    FlowStats,
    add_delivery,
    build_rows,
    pick_result,
    plan_events,
    record_stats,
)
from bench.demo._people import Applicant, ApplicantFactory
from bench.demo._sources import SOURCES, SourceFormat

_PROMISED_DAYS = (1, 3, 5, 7, 10, 15, 20)
_PROMISED_WEIGHTS = (5, 15, 25, 15, 20, 10, 10)
_POPULARITY_EXPONENT = 0.8
"""A few items draw most cases: weight 1 / rank^0.8 over a shuffled pool."""


def split_cases(total: int) -> dict[str, int]:
    """Split a case count over the sources by their shares, largest remainder first."""
    exact = [total * source.case_share for source in SOURCES]
    counts = [int(value) for value in exact]
    by_remainder = sorted(
        range(len(SOURCES)), key=lambda index: exact[index] - counts[index], reverse=True
    )
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return {source.source_id: count for source, count in zip(SOURCES, counts, strict=True)}


class _ItemPool:
    """The items one source serves, with popularity weights."""

    def __init__(self, rng: random.Random, source: SourceFormat, items: list[DemoItem]) -> None:
        hint = source.department_hint
        served = [item for item in items if hint is None or hint in item.department_name]
        # A catalogue without the source's department still yields a demo.
        self.items = served or list(items)
        rng.shuffle(self.items)
        self.weights = [1 / (rank**_POPULARITY_EXPONENT) for rank in range(1, len(self.items) + 1)]

    def pick(self, rng: random.Random) -> DemoItem:
        return rng.choices(self.items, weights=self.weights)[0]


def _applicant(rng: random.Random, people: ApplicantFactory, source: SourceFormat) -> Applicant:
    if rng.random() < source.enterprise_share:
        return people.enterprise()
    return people.person(passport=rng.random() < source.passport_share)


def build_cases(
    rng: random.Random,
    calendar: WorkingCalendar,
    items: list[DemoItem],
    *,
    cases: int,
    start: date,
    end: date,
) -> tuple[list[CaseRecord], FlowStats]:
    """Draw ``cases`` cases submitted from ``start`` to ``end`` and cut at the end of ``end``.

    Cases are numbered in submission order, and each source numbers its own
    cases per submission day in that order, as a department system would.
    """
    if not items:
        message = "the catalogue has no item whose implementation code embeds a valid USCC"
        raise ValueError(message)

    first = calendar.index_of(start) * MINUTES_PER_DAY
    cutoff = calendar.end_of(end)
    if cutoff <= first:
        message = f"no working time between {start} and {end}"
        raise ValueError(message)

    counts = split_cases(cases)
    assigned = [source for source in SOURCES for _ in range(counts[source.source_id])]
    rng.shuffle(assigned)
    submissions = sorted(
        ((rng.randrange(first, cutoff), source) for source in assigned),
        key=lambda pair: pair[0],
    )

    pools = {source.source_id: _ItemPool(rng, source, items) for source in SOURCES}
    promised = {
        item.item_code: rng.choices(_PROMISED_DAYS, weights=_PROMISED_WEIGHTS)[0] for item in items
    }
    people = ApplicantFactory(rng)
    daily_numbers: Counter[tuple[str, date]] = Counter()
    stats = FlowStats()
    records: list[CaseRecord] = []

    for index, (submitted, source) in enumerate(submissions):
        item = pools[source.source_id].pick(rng)
        case = CaseRecord(
            index=index,
            source=source,
            applicant=_applicant(rng, people, source),
            item=item,
            promised_days=promised[item.item_code],
        )

        day = calendar.to_datetime(submitted).date()
        daily_numbers[source.source_id, day] += 1
        local_no = source.local_no(day, daily_numbers[source.source_id, day])

        events = plan_events(rng, submitted, case.promised_days)
        result = pick_result(rng)
        if events[-1][0] == "concluded":
            events = add_delivery(rng, events, result)
        exported = [(name, moment) for name, moment in events if moment < cutoff]
        record_stats(stats, exported, case.promised_days, cutoff)

        case.rows = build_rows(rng, calendar, case, local_no, exported, result)
        records.append(case)

    return records, stats

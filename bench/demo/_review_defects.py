"""Plant the defects of the review exports, and count the review flows the ingest should see.

Value defects and extra rows are planted before the rows are sorted into
files; out-of-order rows and re-sends after. A rating that anchors one
defect never anchors another, so each planted row has exactly the outcome
``DEFECT_OUTCOMES`` gives it. Quarantined ratings are chosen among those
without follow-ups, so no follow-up waits for a rating that never arrives.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, timedelta

from bench.demo._defects import full_width
from bench.demo._family_defects import INVALID_REGION, move_before, pick, resend, scaled
from bench.demo._family_rows import HARMLESS_DEFECTS, Cell, FamilyLayout, FamilyRow
from bench.demo._reviews import KEY_FIELDS, ReviewPlanner
from bus.config import DEFAULT_CALLBACK_DAYS, DEFAULT_RECTIFICATION_DAYS
from contracts.identifiers import to_halfwidth

ReviewKey = tuple[str, str, str]

_TRAILING_NUMBER = re.compile(r"[0-9]{5,}$")


def review_key(row: FamilyRow) -> ReviewKey:
    """Return (case number, channel, rater): the values the bus derives a review id from."""
    values = row.values
    number = str(values["local_no"])
    number = number if number.isascii() else to_halfwidth(number)
    return number, str(values["channel"]), str(values["rater"])


def _level(row: FamilyRow) -> int:
    return int(str(row.values["level"]))


class ReviewDefects:
    """Plant defects into one review source's rows; ``rows`` grows with the planted rows."""

    def __init__(
        self,
        rng: random.Random,
        planner: ReviewPlanner,
        layout: FamilyLayout,
        rows: list[FamilyRow],
        known_numbers: set[str],
    ) -> None:
        self._rng = rng
        self._planner = planner
        self._layout = layout
        self.rows = rows
        self._known_numbers = known_numbers
        self._anchors: set[int] = set()
        """ids of the ratings that already anchor a planted defect."""

    def _ratings(self, *, without_follow_ups: bool = False) -> list[FamilyRow]:
        followed = {review_key(row) for row in self.rows if row.event != "rated"}
        return [
            row
            for row in self.rows
            if row.event == "rated"
            and row.defect is None
            and id(row) not in self._anchors
            and not (without_follow_ups and review_key(row) in followed)
        ]

    def _claim(self, count: int, candidates: list[FamilyRow]) -> list[FamilyRow]:
        chosen = pick(self._rng, candidates, count)
        self._anchors.update(id(row) for row in chosen)
        return chosen

    def _follow_up_row(
        self, rating: FamilyRow, event: str, days: int, **values: Cell
    ) -> FamilyRow | None:
        planner = self._planner
        moment = planner.moment_on(planner.day_after(rating.time.date(), days))
        at = planner.office_time(moment)
        if at is None:
            return None
        copied = {name: rating.values[name] for name in KEY_FIELDS if name in rating.values}
        codes = {name: code for name, code in rating.codes.items() if name == "channel"}
        return FamilyRow(event=event, time=at, values={**copied, **values}, codes=codes)

    # Before the rows are sorted into files ----------------------------------

    def plant_rows(self) -> None:
        """Plant every defect that changes or adds rows."""
        population = len(self._ratings())
        self._follow_up_not_bad(scaled(population, 0.003))
        self._rectification_not_valid(scaled(population, 0.001))
        self._second_ratings(scaled(population, 0.006))
        self._missing_cases(scaled(population, 0.004))
        for field_name in ("level", "channel"):
            self._unmapped(field_name, scaled(population, 0.003))
        self._invalid_regions(scaled(population, 0.003))
        self._full_width(scaled(len(self.rows), 0.01))

    def _follow_up_not_bad(self, count: int) -> None:
        candidates = [
            row
            for row in self._ratings(without_follow_ups=True)
            if _level(row) >= 3 and not row.values["is_default"]
        ]
        for rating in self._claim(count, candidates):
            row = self._follow_up_row(rating, "verified", self._rng.randint(1, 3), valid=True)
            if row is not None:
                row.defect = "follow_up_not_bad"
                self.rows.append(row)

    def _rectification_not_valid(self, count: int) -> None:
        """Assign rectification after a verification that found the review not genuine."""
        not_genuine = [
            row
            for row in self.rows
            if row.event == "verified" and row.defect is None and row.values.get("valid") is False
        ]
        for verification in pick(self._rng, not_genuine, count):
            self._add_rectification(verification)
            count -= 1

        # A small run may have no such verification yet: make one from a rating.
        candidates = [
            row for row in self._ratings(without_follow_ups=True) if not row.values["is_default"]
        ]
        for rating in self._claim(count, candidates):
            made = self._follow_up_row(rating, "verified", 1, valid=False)
            if made is None:
                continue
            rating.values.update(level=2, reason_tags=("512",), text=None)
            self.rows.append(made)
            self._add_rectification(made)

    def _add_rectification(self, verification: FamilyRow) -> None:
        at = verification.time + timedelta(minutes=self._rng.randint(30, 600))
        if at >= self._planner.cutoff:
            return
        values = {
            name: verification.values[name] for name in KEY_FIELDS if name in verification.values
        }
        values["assignee"] = verification.values["department_code"]
        row = FamilyRow(
            event="rectification_assigned",
            time=at,
            values=values,
            codes=dict(verification.codes),
            defect="rectification_not_valid",
        )
        self.rows.append(row)

    def _second_ratings(self, count: int) -> None:
        for rating in self._claim(count, self._ratings()):
            at = rating.time + timedelta(minutes=self._rng.randint(3, 2 * 24 * 60))
            if at >= self._planner.cutoff:
                continue
            level = self._rng.choice((5, 5, 4, 3, 1))
            second = replace(
                rating,
                time=at,
                values={**rating.values, "level": level, "is_default": False},
                codes=dict(rating.codes),
                defect="second_rating",
            )
            self.rows.append(second)

    def _missing_cases(self, count: int) -> None:
        """Add ratings of case numbers in the case system's shape that it never exported."""
        for rating in pick(self._rng, self._ratings(), count):
            number = self._made_up_number(str(rating.values["local_no"]))
            at = rating.time + timedelta(minutes=self._rng.randint(1, 240))
            if at >= self._planner.cutoff:
                continue
            row = replace(
                rating,
                time=at,
                values={**rating.values, "local_no": number},
                codes=dict(rating.codes),
                defect="missing_case",
            )
            self.rows.append(row)

    def _made_up_number(self, number: str) -> str:
        match = _TRAILING_NUMBER.search(number)
        stem, width = (number[: match.start()], len(match.group())) if match else (number, 6)
        while True:
            made_up = f"{stem}9{self._rng.randrange(10 ** (width - 1)):0{width - 1}d}"
            if made_up not in self._known_numbers:
                return made_up

    def _unmapped(self, field_name: str, count: int) -> None:
        for rating in self._claim(count, self._ratings(without_follow_ups=True)):
            rating.codes[field_name] = self._layout.unmapped[field_name]
            rating.defect = f"unmapped_{field_name}"

    def _invalid_regions(self, count: int) -> None:
        for rating in self._claim(count, self._ratings(without_follow_ups=True)):
            rating.values["region"] = INVALID_REGION
            rating.defect = "invalid_region"

    def _full_width(self, count: int) -> None:
        clean = [row for row in self.rows if row.defect is None and id(row) not in self._anchors]
        for row in pick(self._rng, clean, count):
            row.values["local_no"] = full_width(str(row.values["local_no"]))
            row.defect = "full_width_digits"

    # After the rows are sorted into files -----------------------------------

    def plant_placement(self, files: list[list[FamilyRow]]) -> None:
        """Move some verifications before their rating, then re-send some rows."""
        ratings = {
            review_key(row): row
            for rows in files
            for row in rows
            if row.event == "rated" and row.defect in (None, "full_width_digits")
        }
        verifications = [
            row
            for rows in files
            for row in rows
            if row.event == "verified" and row.defect is None and review_key(row) in ratings
        ]
        for verification in pick(self._rng, verifications, scaled(len(verifications), 0.2)):
            move_before(files, verification, ratings[review_key(verification)])
            verification.defect = "out_of_order"

        clean = [row for rows in files for row in rows if row.defect is None]
        for row in pick(self._rng, clean, scaled(len(clean), 0.015)):
            resend(self._rng, files, row)


FLOW_COUNTS = (
    "rated",
    "default_ratings",
    *(f"level_{level}" for level in range(1, 6)),
    *(f"channel_{channel}" for channel in ("web", "mobile", "window", "terminal", "phone", "sms")),
    "bad_reviews",
    "verified",
    "not_genuine",
    "rectification_assigned",
    "rectified",
    "revisited",
    "callback_late",
    "callback_open_past_deadline",
    "rectification_late",
    "rectification_open_past_deadline",
)
"""Keys of ``review_flow_counts``, each present even when zero."""


def review_flow_counts(rows: list[FamilyRow], planner: ReviewPlanner) -> dict[str, int]:
    """Count the review events a correct ingest publishes, and the late follow-ups among them.

    Deadlines count working days after the rating's date. "Open past the
    deadline" means no follow-up by the end of the export although the
    deadline's working day had ended.
    """
    published = [row for row in rows if row.defect is None or row.defect in HARMLESS_DEFECTS]
    counts: Counter[str] = Counter(dict.fromkeys(FLOW_COUNTS, 0))
    follow_ups: dict[ReviewKey, dict[str, FamilyRow]] = defaultdict(dict)
    for row in published:
        counts[row.event] += 1
        if row.event == "rated":
            counts[f"level_{_level(row)}"] += 1
            counts[f"channel_{row.values['channel']}"] += 1
            counts["default_ratings"] += bool(row.values["is_default"])
        else:
            follow_ups[review_key(row)][row.event] = row

    days = planner.working_days
    last_day = bisect_right(days, planner.end) - 1
    for rating in published:
        if rating.event != "rated" or _level(rating) > 2:
            continue
        counts["bad_reviews"] += 1
        chain = follow_ups[review_key(rating)]
        rating_day = rating.time.date()
        callback_deadline = planner.day_after(rating_day, DEFAULT_CALLBACK_DAYS)
        _count_deadline(
            counts, "callback", chain.get("verified"), callback_deadline, last_day, days
        )
        verification = chain.get("verified")
        if verification is None or verification.values.get("valid") is not True:
            counts["not_genuine"] += verification is not None
            continue
        _count_deadline(
            counts,
            "rectification",
            chain.get("rectified"),
            planner.day_after(rating_day, DEFAULT_RECTIFICATION_DAYS),
            last_day,
            days,
        )
    return {name: counts[name] for name in FLOW_COUNTS}


def _count_deadline(
    counts: Counter[str],
    name: str,
    done: FamilyRow | None,
    deadline: int,
    last_day: int,
    days: list[date],
) -> None:
    if done is None:
        counts[f"{name}_open_past_deadline"] += deadline <= last_day
        return
    done_day = bisect_right(days, done.time.date()) - 1
    counts[f"{name}_late"] += done_day > deadline

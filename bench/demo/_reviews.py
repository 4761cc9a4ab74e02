"""Ratings (好差评) of the demo's cases, and the follow-up of bad reviews.

Two sources rate cases that their case systems really exported:

- the provincial 好差评 push rates closed cases of the public security
  approval system once per case ("一事一评") through the portal, the app,
  the 12345 hotline, an SMS reply or a self-service terminal, and gives a
  default rating (默认好评) a week after closing when no one rated;
- the hall evaluator rates each window visit of the hall window system right
  after the service ("一次一评"), records a default rating when the screen
  times out, and now and then a later rating at the hall's self-service
  terminal.

A bad review (level 1 or 2) is verified by calling the rater back (回访核实);
a genuine one is assigned for rectification (整改), reported rectified, and
the rater is asked again (回访). Deadlines count working days after the
rating's date, with the bus's configuration defaults. Late follow-ups miss
their deadline by at least two working days and timely ones keep it with a
day to spare, so counting the rating day as well does not change which are
late.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from bench.demo._calendar import MINUTES_PER_DAY, WorkingCalendar
from bench.demo._family_rows import Cell, FamilyRow
from bench.demo._flows import CaseRecord
from bench.demo._visits import REGION, Visit
from bus.config import DEFAULT_CALLBACK_DAYS, DEFAULT_RECTIFICATION_DAYS

KEY_FIELDS = (
    "local_no",
    "item_code",
    "channel",
    "rater",
    "rater_type",
    "department_code",
    "region",
    "hall",
    "window",
    "staff",
)
"""Values a follow-up row repeats from its rating, so the ingest finds the review."""

_ONLINE_LEVELS = {5: 82, 4: 9, 3: 4, 2: 3, 1: 2}
_REJECTED_LEVELS = {5: 45, 4: 15, 3: 15, 2: 15, 1: 10}
"""Levels given to a case that was not accepted (不予受理)."""
_WINDOW_LEVELS = {5: 88, 4: 7, 3: 2.5, 2: 1.5, 1: 1}
_REVISIT_LEVELS = {5: 50, 4: 30, 3: 15, 2: 5}
_ONLINE_CHANNELS = {"web": 28, "mobile": 42, "terminal": 8, "phone": 12, "sms": 10}
_MOBILE_CODES = {"2": 60, "3": 25, "4": 15}
"""App, WeChat mini program and Alipay, all the mobile channel."""
_MIN_BAD_REVIEWS = 3
"""Ratings turned bad when a small run draws fewer, so every follow-up path occurs."""

_GOOD_TAGS = ("501", "502", "503", "504", "505")
_BAD_TAGS = ("510", "511", "512", "513", "514", "515", "516", "517")
"""Indicator codes (评价指标) of the demo; 501-505 praise, 510-517 complain."""
_GOOD_TEXTS = (
    "办事效率高",
    "工作人员热情周到，一次就办好了",
    "网上办理很方便",
    "材料简化了，点赞",
)
_BAD_TEXTS = (
    "材料要求反复变更，跑了三次",
    "办理时间太长，超过了承诺时限",
    "系统经常卡顿，材料上传失败",
    "电话咨询一直无人接听",
    "窗口工作人员态度生硬,\n解释不清楚",
    '告知"还需补充材料"但没有一次性说明',
)
_INVALID_REMARKS = ("评价人误操作，已电话核实", "经核实与办件无关，属误评")
_RECTIFIED_REMARKS = (
    "已约谈窗口人员并组织业务培训",
    "已优化办理流程，压缩时限",
    "已一次性告知清单上墙",
)


def _draw_level(rng: random.Random, weights: Mapping[int, float]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _comment(rng: random.Random, level: int) -> tuple[tuple[str, ...], str | None]:
    """Return indicator codes and a free-text comment that fit the level."""
    if level <= 2:
        tags = tuple(sorted(rng.sample(_BAD_TAGS, rng.randint(1, 2))))
        return tags, rng.choice(_BAD_TEXTS) if rng.random() < 0.7 else None
    tags = tuple(sorted(rng.sample(_GOOD_TAGS, rng.randint(1, 2)))) if rng.random() < 0.3 else ()
    return tags, rng.choice(_GOOD_TEXTS) if rng.random() < 0.15 else None


def rater_of(case: CaseRecord) -> tuple[str, str]:
    """Return the rater reference (the applicant's certificate number) and rater type."""
    kind = "legal_person" if case.applicant.id_type == "uscc" else "person"
    return case.applicant.id_number, kind


def closing_row_time(case: CaseRecord) -> tuple[datetime, int, bool] | None:
    """Return the time and working minute a case closed, and whether it was rejected."""
    for row in reversed(case.rows):
        if row.status in ("concluded", "result_delivered", "not_accepted"):
            return row.status_time, row.moment, row.status == "not_accepted"
    return None


class ReviewPlanner:
    """Build rating rows and the follow-up rows of bad reviews, all before the cutoff."""

    def __init__(
        self, rng: random.Random, calendar: WorkingCalendar, cutoff: datetime, end: date
    ) -> None:
        self._rng = rng
        self._calendar = calendar
        self.cutoff = cutoff
        self.end = end
        self._cutoff_moment = calendar.end_of(end)

    # Working-day arithmetic -------------------------------------------------

    @property
    def working_days(self) -> list[date]:
        return self._calendar.days

    def day_after(self, day: date, days: int) -> int:
        """Return the index of the ``days``-th working day after ``day``."""
        return bisect_right(self._calendar.days, day) + days - 1

    def moment_on(self, day_index: int) -> int:
        return day_index * MINUTES_PER_DAY + self._rng.randrange(MINUTES_PER_DAY)

    def office_time(self, moment: int) -> datetime | None:
        """Return the time of a working minute with random seconds, None from the cutoff on."""
        if moment >= self._cutoff_moment:
            return None
        return self._calendar.to_datetime(moment) + timedelta(seconds=self._rng.randrange(60))

    # Ratings ---------------------------------------------------------------

    def rating(
        self,
        case: CaseRecord,
        *,
        at: datetime,
        level: int,
        channel: str,
        is_default: bool = False,
        extra: dict[str, Cell] | None = None,
    ) -> FamilyRow:
        """Build one rating row of a case."""
        rater, rater_type = rater_of(case)
        tags, text = ((), None) if is_default else _comment(self._rng, level)
        values: dict[str, Cell] = {
            "local_no": case.rows[0].local_no,
            "item_code": case.item.item_code,
            "channel": channel,
            "rater": rater,
            "rater_type": rater_type,
            "department_code": case.item.department_code,
            "region": REGION,
            "level": level,
            "reason_tags": tags,
            "text": text,
            "is_default": is_default,
            **(extra or {}),
        }
        return FamilyRow(event="rated", time=at, values=values)

    def online_ratings(self, cases: list[CaseRecord]) -> list[FamilyRow]:
        """Rate closed cases the way the provincial platform collects ratings."""
        rows: list[FamilyRow] = []
        for case in cases:
            closing = closing_row_time(case)
            if closing is None:
                continue
            closed_at, closed_moment, rejected = closing

            roll = self._rng.random()
            if roll < 0.45:
                channel = self._rng.choices(
                    list(_ONLINE_CHANNELS), weights=list(_ONLINE_CHANNELS.values())
                )[0]
                at = self._online_time(channel, closed_at, closed_moment)
                level = _draw_level(self._rng, _REJECTED_LEVELS if rejected else _ONLINE_LEVELS)
                row = self.rating(case, at=at, level=level, channel=channel) if at else None
                if row is not None and channel == "mobile":
                    code = self._rng.choices(list(_MOBILE_CODES), list(_MOBILE_CODES.values()))[0]
                    row.codes["channel"] = code
            elif roll < 0.65:
                # A nightly job gives the default rating a week after closing.
                at = datetime.combine(closed_at.date() + timedelta(days=7), time(2, 0))
                at += timedelta(seconds=self._rng.randrange(1800))
                row = self.rating(case, at=at, level=5, channel="web", is_default=True)
            else:
                row = None

            if row is not None and row.time < self.cutoff:
                rows.append(row)
        return rows

    def _online_time(
        self, channel: str, closed_at: datetime, closed_moment: int
    ) -> datetime | None:
        rng = self._rng
        if channel in ("phone", "terminal"):
            days = rng.randint(1, 3) if channel == "phone" else rng.randint(0, 5)
            moment = closed_moment + days * MINUTES_PER_DAY + rng.randint(10, 120)
            return self.office_time(moment)
        if channel == "sms":
            return closed_at + timedelta(minutes=rng.randint(2, 600), seconds=rng.randrange(60))
        # Portal and app users rate in the evening as often as by day.
        day = closed_at.date() + timedelta(days=rng.randint(0, 4))
        at = datetime.combine(day, time(7, 30)) + timedelta(seconds=rng.randrange(16 * 3600))
        return at if at > closed_at else at + timedelta(days=1)

    def window_ratings(self, visits: list[Visit]) -> list[FamilyRow]:
        """Rate window visits on the evaluator, with some later ratings at the terminal."""
        rows: list[FamilyRow] = []
        for visit in visits:
            place: dict[str, Cell] = {
                "hall": visit.queue.hall,
                "window": visit.window,
                "staff": visit.staff,
            }
            roll = self._rng.random()
            row: FamilyRow | None = None
            if roll < 0.72:
                at = visit.ended + timedelta(seconds=self._rng.randint(5, 80))
                level = _draw_level(self._rng, _WINDOW_LEVELS)
                row = self.rating(visit.case, at=at, level=level, channel="window", extra=place)
            elif roll < 0.95:
                # The screen times out after 60 seconds and sends 非常满意 by itself.
                at = visit.ended + timedelta(seconds=60)
                row = self.rating(
                    visit.case, at=at, level=5, channel="window", is_default=True, extra=place
                )
            if row is not None and row.time < self.cutoff:
                rows.append(row)

            if self._rng.random() < 0.04:
                terminal = self._terminal_rating(visit, place)
                if terminal is not None:
                    rows.append(terminal)
        return rows

    def _terminal_rating(self, visit: Visit, place: dict[str, Cell]) -> FamilyRow | None:
        day_index = self.day_after(visit.ended.date(), self._rng.randint(0, 3))
        at = self.office_time(self.moment_on(day_index))
        if at is None or at <= visit.ended:
            return None
        level = _draw_level(self._rng, _WINDOW_LEVELS)
        return self.rating(visit.case, at=at, level=level, channel="terminal", extra=place)

    def ensure_bad_reviews(self, ratings: list[FamilyRow]) -> None:
        """Turn some ratings bad when fewer than a handful are, so follow-ups always occur."""
        manual = [row for row in ratings if not row.values["is_default"]]
        bad = [row for row in manual if int(str(row.values["level"])) <= 2]
        missing = _MIN_BAD_REVIEWS - len(bad)
        good = [row for row in manual if int(str(row.values["level"])) > 2]
        for row in self._rng.sample(good, min(max(missing, 0), len(good))):
            level = self._rng.choice((1, 2))
            tags, text = _comment(self._rng, level)
            row.values.update(level=level, reason_tags=tags, text=text)

    # Follow-up of bad reviews ---------------------------------------------

    def follow_up(self, rating: FamilyRow) -> list[FamilyRow]:
        """Build verification, rectification and revisit rows of a bad review, up to the cutoff."""
        rng = self._rng
        rating_day = rating.time.date()
        assignee = str(rating.values["department_code"])

        verify_after = (
            rng.randint(1, DEFAULT_CALLBACK_DAYS - 1)
            if rng.random() < 0.75
            else DEFAULT_CALLBACK_DAYS + rng.randint(2, 6)
        )
        verify_moment = self.moment_on(self.day_after(rating_day, verify_after))
        valid = rng.random() < 0.8
        rows = self._extend([], rating, "verified", verify_moment, valid=valid)
        if not rows:
            return rows
        if not valid:
            rows[-1].values["remark"] = rng.choice(_INVALID_REMARKS)
            return rows

        assign_moment = verify_moment + rng.randint(10, 90)
        rows = self._extend(
            rows, rating, "rectification_assigned", assign_moment, assignee=assignee
        )
        timely_limit = DEFAULT_RECTIFICATION_DAYS - 1
        rectify_after = (
            rng.randint(verify_after + 1, timely_limit)
            if verify_after < timely_limit and rng.random() < 0.7
            else DEFAULT_RECTIFICATION_DAYS + rng.randint(2, 10)
        )
        rectify_moment = max(
            self.moment_on(self.day_after(rating_day, rectify_after)), assign_moment + 30
        )
        rows = self._extend(rows, rating, "rectified", rectify_moment)
        if rows and rows[-1].event == "rectified":
            rows[-1].values["remark"] = rng.choice(_RECTIFIED_REMARKS)

        revisit_day = rectify_moment // MINUTES_PER_DAY + rng.randint(1, 3)
        satisfaction = _draw_level(rng, _REVISIT_LEVELS)
        return self._extend(
            rows, rating, "revisited", self.moment_on(revisit_day), satisfaction=satisfaction
        )

    def _extend(
        self,
        rows: list[FamilyRow],
        rating: FamilyRow,
        event: str,
        moment: int,
        **values: Cell,
    ) -> list[FamilyRow]:
        """Append one follow-up row unless an earlier one is missing or it falls past the cutoff."""
        expected = ("verified", "rectification_assigned", "rectified", "revisited")
        if [row.event for row in rows] != list(expected[: expected.index(event)]):
            return rows
        at = self.office_time(moment)
        if at is None:
            return rows
        copied = {name: rating.values[name] for name in KEY_FIELDS if name in rating.values}
        codes = {name: code for name, code in rating.codes.items() if name == "channel"}
        row = FamilyRow(event=event, time=at, values={**copied, **values}, codes=codes)
        return [*rows, row]

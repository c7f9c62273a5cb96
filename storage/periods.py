"""Reporting periods of a campaign and when members are reminded about them.

Pure calendar arithmetic: the scheduler and the outbox call these with the current time, so
everything here is deterministic and testable without a clock or a database.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MONTHLY = "monthly"
QUARTERLY = "quarterly"
CADENCES = (MONTHLY, QUARTERLY)

BEFORE = "before"
DUE = "due"
OVERDUE = "overdue"

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    due: date

    def key(self) -> str:
        # The key goes into outbox idempotency keys, so it must not depend on due_day: changing
        # the due day mid-period must not make already-sent reminders look unsent.
        if self.start.month == self.end.month:
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"


def _check(cadence: str, due_day: int) -> None:
    if cadence not in CADENCES:
        raise ValueError(f"unknown cadence {cadence!r}")
    if isinstance(due_day, bool) or not isinstance(due_day, int) or not 1 <= due_day <= 31:
        raise ValueError(f"due_day must be 1..31, got {due_day!r}")


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def period_containing(day: date, *, cadence: str, due_day: int) -> Period:
    _check(cadence, due_day)
    first_month = day.month if cadence == MONTHLY else 3 * ((day.month - 1) // 3) + 1
    last_month = first_month + (0 if cadence == MONTHLY else 2)
    last = _last_day(day.year, last_month)
    # A due day of 31 means "the last day" in shorter months rather than spilling into the next.
    return Period(
        start=date(day.year, first_month, 1),
        end=date(day.year, last_month, last),
        due=date(day.year, last_month, min(due_day, last)),
    )


def previous_period(period: Period, *, cadence: str, due_day: int) -> Period:
    return period_containing(period.start - timedelta(days=1), cadence=cadence, due_day=due_day)


def periods_between(start: date, end: date, *, cadence: str, due_day: int) -> list[Period]:
    periods: list[Period] = []
    current = period_containing(start, cadence=cadence, due_day=due_day)
    while current.start <= end:
        periods.append(current)
        current = period_containing(
            current.end + timedelta(days=1), cadence=cadence, due_day=due_day
        )
    return periods


_QUIET_RE = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        # The window crosses midnight: quiet late in the evening or early in the morning.
        return moment >= self.start or moment < self.end

    def next_allowed(self, local: datetime) -> datetime:
        wall = local.time()
        if not self.contains(wall):
            return local
        day = local.date()
        if self.start > self.end and wall >= self.start:
            day += timedelta(days=1)  # evening part of a window that ends tomorrow morning
        return datetime.combine(day, self.end, tzinfo=local.tzinfo)

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        match = _QUIET_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"quiet hours must look like 20:00-07:30, got {text!r}")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        return cls(time(h1, m1), time(h2, m2))  # time() rejects 24:00, 07:60 with ValueError


DEFAULT_QUIET = QuietHours(time(20, 0), time(7, 30))


def reminder_moments(
    period: Period,
    *,
    hour: int,
    tz: ZoneInfo,
    quiet: QuietHours,
    before_days: int = 3,
    overdue_days: int = 2,
) -> dict[str, datetime]:
    if not 0 <= hour <= 23:
        raise ValueError(f"hour must be 0..23, got {hour!r}")
    if before_days < 0 or overdue_days < 0:
        raise ValueError("before_days and overdue_days must not be negative")
    # Reminders stay inside their period so that a reminder never talks about a period the
    # member cannot yet (or can no longer) report on.
    days = {
        BEFORE: max(period.due - timedelta(days=before_days), period.start),
        DUE: period.due,
        OVERDUE: min(period.due + timedelta(days=overdue_days), period.end),
    }
    # A clamp that lands on the due date would send two messages at the same moment; the "due"
    # reminder alone says it all.
    for kind in (BEFORE, OVERDUE):
        if days[kind] == period.due:
            del days[kind]
    moments: dict[str, datetime] = {}
    for kind, day in days.items():
        local = datetime.combine(day, time(hour), tzinfo=tz)
        moments[kind] = quiet.next_allowed(local).astimezone(UTC)
    return moments


def is_paused(paused_until: date | None, today: date) -> bool:
    return paused_until is not None and today <= paused_until


def due_reminders(
    periods: list[Period],
    *,
    now: datetime,
    hour: int,
    tz: ZoneInfo,
    quiet: QuietHours,
    before_days: int = 3,
    overdue_days: int = 2,
    grace: timedelta = timedelta(days=1),
) -> list[tuple[Period, str]]:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    # The grace window lets a sweep every few minutes catch each moment once it has passed,
    # while a bot that was down for days does not flood members with stale reminders.
    due: list[tuple[Period, str]] = []
    for period in periods:
        moments = reminder_moments(
            period,
            hour=hour,
            tz=tz,
            quiet=quiet,
            before_days=before_days,
            overdue_days=overdue_days,
        )
        due.extend((period, kind) for kind, at in moments.items() if at <= now < at + grace)
    return due


def latest_slot(
    now: datetime, *, mode: str, hour: int, weekday: int, tz: ZoneInfo
) -> datetime | None:
    """The most recent scheduled moment at or before `now` of a digest that comes daily at
    `hour`, or weekly on `weekday` (0 = Monday) at `hour`, local time; None when "off"."""
    if mode not in ("daily", "weekly"):
        return None
    local = now.astimezone(tz)
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if mode == "daily":
        if slot > local:
            slot -= timedelta(days=1)
    else:
        slot -= timedelta(days=(slot.weekday() - weekday) % 7)
        if slot > local:
            slot -= timedelta(days=7)
    # Rebuild from the calendar date so a slot never drifts by a DST offset.
    return datetime.combine(slot.date(), time(hour), tzinfo=tz).astimezone(UTC)


def accountable_since(reviewed_at: datetime | None, registered_on: date | None) -> date | None:
    """The day a model's owner starts to answer for its periods: its approval (the review, in
    Vietnam's calendar), else, for a model imported as approved, its registration date."""
    if reviewed_at is not None:
        if reviewed_at.tzinfo is None:
            reviewed_at = reviewed_at.replace(tzinfo=UTC)
        return reviewed_at.astimezone(DEFAULT_TZ).date()
    return registered_on


def answers_for(period: Period, since: date | None) -> bool:
    """Whether the owner answers for `period`: nobody is reminded, overdue or late for a period
    whose due date came before their model was approved."""
    return since is None or period.due >= since


def reporting_periods(
    today: date,
    *,
    cadence: str,
    due_day: int,
    starts_on: date,
    ends_on: date,
    since: date | None = None,
) -> list[Period]:
    """The periods a model can be reported for today: the previous one (a late report, or an
    overdue one) and the current one, each only where it overlaps the model's dates and its
    due date did not come before the model's approval (`since`, see `accountable_since`)."""
    current = period_containing(today, cadence=cadence, due_day=due_day)
    previous = previous_period(current, cadence=cadence, due_day=due_day)
    return [
        p
        for p in (previous, current)
        if p.start <= ends_on and p.end >= starts_on and answers_for(p, since)
    ]

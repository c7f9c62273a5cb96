"""Reporting periods, due dates and reminder moments (storage/periods.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.periods import (
    DEFAULT_QUIET,
    Period,
    QuietHours,
    due_reminders,
    is_paused,
    latest_slot,
    period_containing,
    periods_between,
    previous_period,
    reminder_moments,
    reporting_periods,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")  # UTC+7 all year round
D = date
NOON = QuietHours(time(12, 0), time(13, 0))
NONE = QuietHours(time(8, 0), time(8, 0))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def monthly(year: int, month: int, due_day: int):
    return period_containing(D(year, month, 1), cadence="monthly", due_day=due_day)


@pytest.mark.parametrize(
    ("day", "due_day", "start", "end", "due", "key"),
    [
        (D(2026, 1, 15), 31, D(2026, 1, 1), D(2026, 1, 31), D(2026, 1, 31), "2026-01"),
        (D(2026, 4, 10), 31, D(2026, 4, 1), D(2026, 4, 30), D(2026, 4, 30), "2026-04"),
        (D(2024, 2, 1), 31, D(2024, 2, 1), D(2024, 2, 29), D(2024, 2, 29), "2024-02"),
        (D(2023, 2, 28), 31, D(2023, 2, 1), D(2023, 2, 28), D(2023, 2, 28), "2023-02"),
        (D(2100, 2, 10), 29, D(2100, 2, 1), D(2100, 2, 28), D(2100, 2, 28), "2100-02"),
        (D(2000, 2, 10), 30, D(2000, 2, 1), D(2000, 2, 29), D(2000, 2, 29), "2000-02"),
        (D(2026, 11, 30), 25, D(2026, 11, 1), D(2026, 11, 30), D(2026, 11, 25), "2026-11"),
        (D(2026, 12, 31), 15, D(2026, 12, 1), D(2026, 12, 31), D(2026, 12, 15), "2026-12"),
        (D(2026, 6, 1), 1, D(2026, 6, 1), D(2026, 6, 30), D(2026, 6, 1), "2026-06"),
    ],
)
def test_monthly_period(day, due_day, start, end, due, key):
    period = period_containing(day, cadence="monthly", due_day=due_day)
    assert (period.start, period.end, period.due, period.key()) == (start, end, due, key)


@pytest.mark.parametrize(
    ("day", "due_day", "start", "end", "due", "key"),
    [
        (D(2026, 1, 1), 25, D(2026, 1, 1), D(2026, 3, 31), D(2026, 3, 25), "2026-Q1"),
        (D(2024, 2, 29), 31, D(2024, 1, 1), D(2024, 3, 31), D(2024, 3, 31), "2024-Q1"),
        (D(2026, 5, 20), 31, D(2026, 4, 1), D(2026, 6, 30), D(2026, 6, 30), "2026-Q2"),
        (D(2026, 9, 30), 31, D(2026, 7, 1), D(2026, 9, 30), D(2026, 9, 30), "2026-Q3"),
        (D(2026, 10, 1), 10, D(2026, 10, 1), D(2026, 12, 31), D(2026, 12, 10), "2026-Q4"),
    ],
)
def test_quarterly_period(day, due_day, start, end, due, key):
    period = period_containing(day, cadence="quarterly", due_day=due_day)
    assert (period.start, period.end, period.due, period.key()) == (start, end, due, key)


@pytest.mark.parametrize(
    ("cadence", "due_day"),
    [("weekly", 10), ("Monthly", 10), ("", 10), ("monthly", 0), ("monthly", 32), ("quarterly", -1)],
)
def test_invalid_cadence_or_due_day(cadence, due_day):
    with pytest.raises(ValueError):
        period_containing(D(2026, 1, 1), cadence=cadence, due_day=due_day)


@pytest.mark.parametrize(
    ("day", "cadence", "due_day", "start", "end", "due", "key"),
    [
        (
            D(2026, 1, 20),
            "monthly",
            31,
            D(2025, 12, 1),
            D(2025, 12, 31),
            D(2025, 12, 31),
            "2025-12",
        ),
        (D(2024, 3, 1), "monthly", 31, D(2024, 2, 1), D(2024, 2, 29), D(2024, 2, 29), "2024-02"),
        (D(2100, 3, 31), "monthly", 30, D(2100, 2, 1), D(2100, 2, 28), D(2100, 2, 28), "2100-02"),
        (
            D(2026, 2, 14),
            "quarterly",
            31,
            D(2025, 10, 1),
            D(2025, 12, 31),
            D(2025, 12, 31),
            "2025-Q4",
        ),
        (D(2026, 8, 1), "quarterly", 5, D(2026, 4, 1), D(2026, 6, 30), D(2026, 6, 5), "2026-Q2"),
    ],
)
def test_previous_period(day, cadence, due_day, start, end, due, key):
    current = period_containing(day, cadence=cadence, due_day=due_day)
    period = previous_period(current, cadence=cadence, due_day=due_day)
    assert (period.start, period.end, period.due, period.key()) == (start, end, due, key)


@pytest.mark.parametrize(
    ("start", "end", "cadence", "keys"),
    [
        (D(2025, 11, 15), D(2026, 2, 1), "monthly", ["2025-11", "2025-12", "2026-01", "2026-02"]),
        (D(2025, 12, 31), D(2026, 1, 1), "monthly", ["2025-12", "2026-01"]),
        (D(2026, 3, 5), D(2026, 3, 5), "monthly", ["2026-03"]),
        (D(2025, 8, 1), D(2026, 1, 1), "quarterly", ["2025-Q3", "2025-Q4", "2026-Q1"]),
        (D(2025, 10, 1), D(2025, 12, 31), "quarterly", ["2025-Q4"]),
        (D(2026, 2, 1), D(2026, 1, 31), "monthly", []),
    ],
)
def test_periods_between(start, end, cadence, keys):
    periods = periods_between(start, end, cadence=cadence, due_day=31)
    assert [p.key() for p in periods] == keys


def test_periods_between_full_values():
    assert periods_between(D(2023, 12, 20), D(2024, 2, 3), cadence="monthly", due_day=30) == [
        Period(D(2023, 12, 1), D(2023, 12, 31), D(2023, 12, 30)),
        Period(D(2024, 1, 1), D(2024, 1, 31), D(2024, 1, 30)),
        Period(D(2024, 2, 1), D(2024, 2, 29), D(2024, 2, 29)),
    ]


@pytest.mark.parametrize(
    ("period", "hour", "tz", "quiet", "kwargs", "expected"),
    [
        # due_day 25: all three, 09:00 local = 02:00 UTC.
        (
            monthly(2026, 11, 25),
            9,
            HCM,
            DEFAULT_QUIET,
            {},
            {
                "before": utc(2026, 11, 22, 2),
                "due": utc(2026, 11, 25, 2),
                "overdue": utc(2026, 11, 27, 2),
            },
        ),
        # due_day 31 in a 30-day month: overdue would clamp onto the due date, so none.
        (
            monthly(2026, 11, 31),
            9,
            HCM,
            DEFAULT_QUIET,
            {},
            {"before": utc(2026, 11, 27, 2), "due": utc(2026, 11, 30, 2)},
        ),
        (
            monthly(2026, 1, 31),
            9,
            HCM,
            DEFAULT_QUIET,
            {},
            {"before": utc(2026, 1, 28, 2), "due": utc(2026, 1, 31, 2)},
        ),
        # Overdue clamped to the period end but still a day after the due date.
        (
            monthly(2026, 11, 29),
            9,
            HCM,
            DEFAULT_QUIET,
            {},
            {
                "before": utc(2026, 11, 26, 2),
                "due": utc(2026, 11, 29, 2),
                "overdue": utc(2026, 11, 30, 2),
            },
        ),
        (
            monthly(2024, 2, 28),
            9,
            HCM,
            DEFAULT_QUIET,
            {},
            {
                "before": utc(2024, 2, 25, 2),
                "due": utc(2024, 2, 28, 2),
                "overdue": utc(2024, 2, 29, 2),
            },
        ),
        # Before clamped to the period start: onto the due date itself (omitted), or day 1.
        (
            monthly(2026, 11, 1),
            9,
            HCM,
            DEFAULT_QUIET,
            {},
            {"due": utc(2026, 11, 1, 2), "overdue": utc(2026, 11, 3, 2)},
        ),
        (
            monthly(2026, 11, 2),
            9,
            HCM,
            DEFAULT_QUIET,
            {},
            {
                "before": utc(2026, 11, 1, 2),
                "due": utc(2026, 11, 2, 2),
                "overdue": utc(2026, 11, 4, 2),
            },
        ),
        (
            period_containing(D(2026, 10, 1), cadence="quarterly", due_day=1),
            9,
            HCM,
            DEFAULT_QUIET,
            {},
            {
                "before": utc(2026, 11, 28, 2),
                "due": utc(2026, 12, 1, 2),
                "overdue": utc(2026, 12, 3, 2),
            },
        ),
        # 21:00 is quiet: moved to 07:30 next day (00:30 UTC).
        (
            monthly(2026, 11, 25),
            21,
            HCM,
            DEFAULT_QUIET,
            {},
            {
                "before": utc(2026, 11, 23, 0, 30),
                "due": utc(2026, 11, 26, 0, 30),
                "overdue": utc(2026, 11, 28, 0, 30),
            },
        ),
        # 06:00 is quiet: moved to 07:30 the same day.
        (
            monthly(2026, 11, 25),
            6,
            HCM,
            DEFAULT_QUIET,
            {},
            {
                "before": utc(2026, 11, 22, 0, 30),
                "due": utc(2026, 11, 25, 0, 30),
                "overdue": utc(2026, 11, 27, 0, 30),
            },
        ),
        (
            monthly(2026, 11, 25),
            12,
            HCM,
            NOON,
            {},
            {
                "before": utc(2026, 11, 22, 6),
                "due": utc(2026, 11, 25, 6),
                "overdue": utc(2026, 11, 27, 6),
            },
        ),
        (
            monthly(2026, 11, 25),
            21,
            HCM,
            NONE,
            {},
            {
                "before": utc(2026, 11, 22, 14),
                "due": utc(2026, 11, 25, 14),
                "overdue": utc(2026, 11, 27, 14),
            },
        ),
        (
            monthly(2026, 11, 25),
            9,
            ZoneInfo("UTC"),
            DEFAULT_QUIET,
            {"before_days": 7, "overdue_days": 1},
            {
                "before": utc(2026, 11, 18, 9),
                "due": utc(2026, 11, 25, 9),
                "overdue": utc(2026, 11, 26, 9),
            },
        ),
        (
            monthly(2026, 11, 25),
            9,
            HCM,
            DEFAULT_QUIET,
            {"before_days": 0, "overdue_days": 0},
            {"due": utc(2026, 11, 25, 2)},
        ),
    ],
)
def test_reminder_moments(period, hour, tz, quiet, kwargs, expected):
    assert reminder_moments(period, hour=hour, tz=tz, quiet=quiet, **kwargs) == expected


@pytest.mark.parametrize(("hour", "before_days"), [(24, 3), (-1, 3), (9, -1)])
def test_reminder_moments_rejects_bad_arguments(hour, before_days):
    with pytest.raises(ValueError):
        reminder_moments(
            monthly(2026, 11, 25), hour=hour, tz=HCM, quiet=DEFAULT_QUIET, before_days=before_days
        )


@pytest.mark.parametrize(
    ("quiet", "moment", "expected"),
    [
        (DEFAULT_QUIET, time(19, 59), False),
        (DEFAULT_QUIET, time(20, 0), True),
        (DEFAULT_QUIET, time(23, 59, 59), True),
        (DEFAULT_QUIET, time(0, 0), True),
        (DEFAULT_QUIET, time(6, 0), True),
        (DEFAULT_QUIET, time(7, 29, 59), True),
        (DEFAULT_QUIET, time(7, 30), False),
        (DEFAULT_QUIET, time(12, 0), False),
        (NOON, time(11, 59), False),
        (NOON, time(12, 0), True),
        (NOON, time(12, 30), True),
        (NOON, time(13, 0), False),
        (NOON, time(0, 0), False),
        (NOON, time(23, 0), False),
        (NONE, time(8, 0), False),
        (NONE, time(0, 0), False),
    ],
)
def test_quiet_contains(quiet, moment, expected):
    assert quiet.contains(moment) is expected


@pytest.mark.parametrize(
    ("quiet", "local", "expected"),
    [
        (DEFAULT_QUIET, datetime(2026, 11, 22, 21, 0), datetime(2026, 11, 23, 7, 30)),
        (DEFAULT_QUIET, datetime(2026, 11, 22, 20, 0), datetime(2026, 11, 23, 7, 30)),
        (DEFAULT_QUIET, datetime(2026, 11, 22, 23, 59, 59), datetime(2026, 11, 23, 7, 30)),
        (DEFAULT_QUIET, datetime(2026, 12, 31, 22, 0), datetime(2027, 1, 1, 7, 30)),
        (DEFAULT_QUIET, datetime(2026, 11, 22, 0, 0), datetime(2026, 11, 22, 7, 30)),
        (DEFAULT_QUIET, datetime(2026, 11, 22, 6, 0), datetime(2026, 11, 22, 7, 30)),
        (DEFAULT_QUIET, datetime(2026, 11, 22, 7, 30), datetime(2026, 11, 22, 7, 30)),
        (DEFAULT_QUIET, datetime(2026, 11, 22, 19, 59), datetime(2026, 11, 22, 19, 59)),
        (NOON, datetime(2026, 11, 22, 12, 0), datetime(2026, 11, 22, 13, 0)),
        (NOON, datetime(2026, 11, 22, 12, 59), datetime(2026, 11, 22, 13, 0)),
        (NOON, datetime(2026, 11, 22, 13, 0), datetime(2026, 11, 22, 13, 0)),
        (NOON, datetime(2026, 11, 22, 11, 59), datetime(2026, 11, 22, 11, 59)),
        (NOON, datetime(2026, 11, 22, 21, 0), datetime(2026, 11, 22, 21, 0)),
        (NONE, datetime(2026, 11, 22, 8, 0), datetime(2026, 11, 22, 8, 0)),
    ],
)
def test_quiet_next_allowed(quiet, local, expected):
    moved = quiet.next_allowed(local.replace(tzinfo=HCM))
    assert moved == expected.replace(tzinfo=HCM)
    assert moved.tzinfo is HCM


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("20:00-07:30", time(20, 0), time(7, 30)),
        (" 12:00 - 13:00 ", time(12, 0), time(13, 0)),
        ("7:05-8:00", time(7, 5), time(8, 0)),
        ("00:00-00:00", time(0, 0), time(0, 0)),
        ("23:59-00:00", time(23, 59), time(0, 0)),
    ],
)
def test_quiet_parse(text, start, end):
    assert QuietHours.parse(text) == QuietHours(start, end)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "20:00",
        "20-07",
        "24:00-07:30",
        "20:60-07:30",
        "20:00-07:30-08:00",
        "20.00-07.30",
        "8pm-7am",
        "20:0-07:30",
        "-1:00-07:00",
        "120:00-07:30",
    ],
)
def test_quiet_parse_rejects(text):
    with pytest.raises(ValueError):
        QuietHours.parse(text)


@pytest.mark.parametrize(
    ("paused_until", "today", "expected"),
    [
        (None, D(2026, 11, 10), False),
        (D(2026, 11, 10), D(2026, 11, 9), True),
        (D(2026, 11, 10), D(2026, 11, 10), True),
        (D(2026, 11, 10), D(2026, 11, 11), False),
        (D(2025, 12, 31), D(2026, 1, 1), False),
    ],
)
def test_is_paused(paused_until, today, expected):
    assert is_paused(paused_until, today) is expected


NOV = monthly(2026, 11, 25)  # before 22/11, due 25/11, overdue 27/11, each 02:00 UTC
OCT29 = monthly(2026, 10, 29)  # before 26/10, due 29/10, overdue 31/10, each 02:00 UTC
NOV29 = monthly(2026, 11, 29)  # before 26/11, due 29/11, overdue 30/11, each 02:00 UTC


@pytest.mark.parametrize(
    ("periods", "now", "hour", "grace", "expected"),
    [
        ([NOV], utc(2026, 11, 22, 1, 59, 59, 999999), 9, timedelta(days=1), []),
        ([NOV], utc(2026, 11, 22, 2), 9, timedelta(days=1), [(NOV, "before")]),
        ([NOV], utc(2026, 11, 23, 1, 59, 59, 999999), 9, timedelta(days=1), [(NOV, "before")]),
        ([NOV], utc(2026, 11, 23, 2), 9, timedelta(days=1), []),
        ([NOV], utc(2026, 11, 25, 2), 9, timedelta(days=1), [(NOV, "due")]),
        ([NOV], utc(2026, 11, 27, 2), 9, timedelta(days=1), [(NOV, "overdue")]),
        ([NOV], utc(2026, 11, 28, 2), 9, timedelta(days=1), []),
        ([NOV], utc(2026, 11, 25, 2), 9, timedelta(days=5), [(NOV, "before"), (NOV, "due")]),
        ([NOV], utc(2026, 11, 25, 2, 9, 59), 9, timedelta(minutes=10), [(NOV, "due")]),
        ([NOV], utc(2026, 11, 25, 2, 10), 9, timedelta(minutes=10), []),
        # Hour 21 is quiet, so the before reminder is due at 07:30 local next day.
        ([NOV], utc(2026, 11, 23, 0, 29, 59), 21, timedelta(days=1), []),
        ([NOV], utc(2026, 11, 23, 0, 30), 21, timedelta(days=1), [(NOV, "before")]),
        ([OCT29, NOV29], utc(2026, 10, 31, 2), 9, timedelta(days=1), [(OCT29, "overdue")]),
        (
            [OCT29, NOV29],
            utc(2026, 11, 26, 2),
            9,
            timedelta(days=30),
            [(OCT29, "due"), (OCT29, "overdue"), (NOV29, "before")],
        ),
        ([], utc(2026, 11, 25, 2), 9, timedelta(days=1), []),
    ],
)
def test_due_reminders(periods, now, hour, grace, expected):
    got = due_reminders(periods, now=now, hour=hour, tz=HCM, quiet=DEFAULT_QUIET, grace=grace)
    assert got == expected


def test_due_reminders_needs_an_aware_now():
    with pytest.raises(ValueError):
        due_reminders([NOV], now=datetime(2026, 11, 25, 2), hour=9, tz=HCM, quiet=DEFAULT_QUIET)


@pytest.mark.parametrize(
    ("now_local", "mode", "hour", "weekday", "expected_local"),
    [
        # daily at 08:00
        (datetime(2026, 11, 26, 8, 0), "daily", 8, 0, datetime(2026, 11, 26, 8, 0)),
        (datetime(2026, 11, 26, 7, 59), "daily", 8, 0, datetime(2026, 11, 25, 8, 0)),
        (datetime(2027, 1, 1, 7, 0), "daily", 8, 0, datetime(2026, 12, 31, 8, 0)),
        # weekly, Monday (0) 08:00; 26/11/2026 is a Thursday
        (datetime(2026, 11, 26, 12, 0), "weekly", 8, 0, datetime(2026, 11, 23, 8, 0)),
        (datetime(2026, 11, 23, 8, 0), "weekly", 8, 0, datetime(2026, 11, 23, 8, 0)),
        (datetime(2026, 11, 23, 7, 0), "weekly", 8, 0, datetime(2026, 11, 16, 8, 0)),
        (datetime(2026, 11, 29, 23, 0), "weekly", 17, 4, datetime(2026, 11, 27, 17, 0)),
        (datetime(2029, 1, 1, 9, 0), "weekly", 8, 6, datetime(2028, 12, 31, 8, 0)),
    ],
)
def test_latest_digest_slot(now_local, mode, hour, weekday, expected_local):
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    slot = latest_slot(now_local.replace(tzinfo=tz), mode=mode, hour=hour, weekday=weekday, tz=tz)
    assert slot == expected_local.replace(tzinfo=tz).astimezone(UTC)


def test_digest_off_has_no_slot():
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    assert (
        latest_slot(datetime(2026, 11, 26, tzinfo=tz), mode="off", hour=8, weekday=0, tz=tz) is None
    )


@pytest.mark.parametrize(
    ("today", "starts_on", "ends_on", "expected"),
    [
        # both periods inside the model's dates
        (D(2027, 1, 2), D(2026, 12, 1), D(2027, 6, 30), [(12, 2026), (1, 2027)]),
        # the model starts this month: no previous period
        (D(2026, 12, 5), D(2026, 12, 1), D(2027, 6, 30), [(12, 2026)]),
        # the model ended last month: only its last period, late
        (D(2027, 7, 5), D(2026, 12, 1), D(2027, 6, 30), [(6, 2027)]),
        # long over, or not yet begun
        (D(2027, 9, 28), D(2026, 12, 1), D(2027, 6, 30), []),
        (D(2026, 10, 5), D(2026, 12, 1), D(2027, 6, 30), []),
    ],
)
def test_reporting_periods(today, starts_on, ends_on, expected):
    found = reporting_periods(
        today, cadence="monthly", due_day=25, starts_on=starts_on, ends_on=ends_on
    )
    assert [(p.start.month, p.start.year) for p in found] == expected

"""Tests for offpath.cron: AWS schedule expressions and their fire times.

Every expected time below was worked out by hand from the calendar (``python -m calendar``),
not produced by the code under test. Weekdays used:

* May 2026: Wed 13, Fri 15, Sat 16, Mon 18, Fri 29, Sun 31.
* Jun 2026: Mon 1, Tue 9, Fri 26, Tue 30. Jul 2026: Mon 6, Tue 14, Fri 31.
* Aug 2026: Sat 1, Mon 3, Tue 11, Fri 14, Sat 15, Mon 31. Nov 2026: Sun 15, Mon 16.
* Jan 2022: Fri 28, Mon 31. Feb 2022: Fri 25. Mar 2022: Fri 25. Dec 2023: Fri 29.
* Jan 2027: Mon 4, Fri 15. Feb 2027 and Mar 2027: Mon 1.
* Leap years whose 1 February is a Monday (so February has a fifth Monday): 2044, 2072, 2112.
* DST 2026: America/New_York springs forward Sun 8 Mar (02:00 EST -> 03:00 EDT) and falls
  back Sun 1 Nov (02:00 EDT -> 01:00 EST); Europe/Paris springs forward Sun 29 Mar
  (02:00 CET -> 03:00 CEST).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from offpath.cron import (
    MAX_EXPRESSION_LENGTH,
    AtExpression,
    CronExpression,
    RateExpression,
    ScheduleExpressionError,
    next_fire_times,
    parse_expression,
    validate_expression,
)

NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

# Wednesday 13 May 2026, noon UTC.
AFTER = datetime(2026, 5, 13, 12, 0, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime, to keep the tables short."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --------------------------------------------------------------------------- cron, in UTC

# The examples from the EventBridge "Cron expressions reference" table, then the wildcards.
CRON_CASES: list[tuple[str, datetime, list[datetime]]] = [
    # Run at 10:00 am (UTC+0) every day.
    (
        "cron(0 10 * * ? *)",
        AFTER,
        [utc(2026, 5, 14, 10), utc(2026, 5, 15, 10), utc(2026, 5, 16, 10)],
    ),
    # Run at 12:15 pm (UTC+0) every day.
    (
        "cron(15 12 * * ? *)",
        AFTER,
        [utc(2026, 5, 13, 12, 15), utc(2026, 5, 14, 12, 15), utc(2026, 5, 15, 12, 15)],
    ),
    # Run at 6:00 pm (UTC+0) every Monday through Friday: skips Sat 16 and Sun 17.
    (
        "cron(0 18 ? * MON-FRI *)",
        AFTER,
        [utc(2026, 5, 13, 18), utc(2026, 5, 14, 18), utc(2026, 5, 15, 18), utc(2026, 5, 18, 18)],
    ),
    # Run at 8:00 am (UTC+0) every 1st day of the month.
    ("cron(0 8 1 * ? *)", AFTER, [utc(2026, 6, 1, 8), utc(2026, 7, 1, 8), utc(2026, 8, 1, 8)]),
    # Run every 15 minutes: strictly after 12:00, so 12:00 itself is not returned.
    (
        "cron(0/15 * * * ? *)",
        AFTER,
        [utc(2026, 5, 13, 12, 15), utc(2026, 5, 13, 12, 30), utc(2026, 5, 13, 12, 45)],
    ),
    # Run every 10 minutes Monday through Friday: Friday night jumps to Monday.
    (
        "cron(0/10 * ? * MON-FRI *)",
        utc(2026, 5, 15, 23, 45),
        [utc(2026, 5, 15, 23, 50), utc(2026, 5, 18, 0, 0), utc(2026, 5, 18, 0, 10)],
    ),
    # Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC+0).
    (
        "cron(0/5 8-17 ? * MON-FRI *)",
        utc(2026, 5, 15, 17, 50),
        [utc(2026, 5, 15, 17, 55), utc(2026, 5, 18, 8, 0), utc(2026, 5, 18, 8, 5)],
    ),
    # Every 30 minutes Monday through Friday, hours 20-2: a range that wraps past midnight.
    (
        "cron(0/30 20-2 ? * MON-FRI *)",
        utc(2026, 5, 18, 1, 45),
        [utc(2026, 5, 18, 2, 0), utc(2026, 5, 18, 2, 30), utc(2026, 5, 18, 20, 0)],
    ),
    # Every day at 2:05pm and 2:35pm (the put-rule example).
    (
        "cron(5,35 14 * * ? *)",
        AFTER,
        [utc(2026, 5, 13, 14, 5), utc(2026, 5, 13, 14, 35), utc(2026, 5, 14, 14, 5)],
    ),
    # 9:00 on the first Monday of each month.
    ("cron(0 9 ? * 2#1 *)", AFTER, [utc(2026, 6, 1, 9), utc(2026, 7, 6, 9), utc(2026, 8, 3, 9)]),
    # 3#2 is "the second Tuesday of the month" (the docs' '#' example); 12 May is past.
    ("cron(0 0 ? * 3#2 *)", AFTER, [utc(2026, 6, 9), utc(2026, 7, 14), utc(2026, 8, 11)]),
    # L in day-of-month: the last day of the month.
    ("cron(0 0 L * ? *)", AFTER, [utc(2026, 5, 31), utc(2026, 6, 30), utc(2026, 7, 31)]),
    ("cron(0 0 L * ? *)", utc(2026, 1, 31), [utc(2026, 2, 28), utc(2026, 3, 31), utc(2026, 4, 30)]),
    ("cron(0 0 L 2 ? *)", utc(2027, 3, 1), [utc(2028, 2, 29), utc(2029, 2, 28), utc(2030, 2, 28)]),
    # L-2: two days before the last day.
    (
        "cron(0 0 L-2 * ? *)",
        utc(2026, 1, 1),
        [utc(2026, 1, 29), utc(2026, 2, 26), utc(2026, 3, 29)],
    ),
    # 6L in day-of-week: the last Friday of the month.
    ("cron(0 0 ? * 6L *)", AFTER, [utc(2026, 5, 29), utc(2026, 6, 26), utc(2026, 7, 31)]),
    # The docs' "10:15am on the last Friday of each month during the years 2022 to 2023".
    (
        "cron(15 10 ? * 6L 2022-2023)",
        utc(2022, 1, 1),
        [utc(2022, 1, 28, 10, 15), utc(2022, 2, 25, 10, 15), utc(2022, 3, 25, 10, 15)],
    ),
    ("cron(15 10 ? * 6L 2022-2023)", utc(2023, 12, 29, 10, 15), []),
    # L alone in day-of-week: the last day of the week, Saturday.
    (
        "cron(0 12 ? * L *)",
        AFTER,
        [utc(2026, 5, 16, 12), utc(2026, 5, 23, 12), utc(2026, 5, 30, 12)],
    ),
    # 15W: 15 Aug 2026 is a Saturday -> Friday 14; Sep 15 (Tue) and Oct 15 (Thu) stay.
    (
        "cron(0 12 15W * ? *)",
        utc(2026, 7, 31),
        [utc(2026, 8, 14, 12), utc(2026, 9, 15, 12), utc(2026, 10, 15, 12)],
    ),
    # 15W: 15 Nov 2026 is a Sunday -> Monday 16.
    (
        "cron(0 12 15W * ? *)",
        utc(2026, 10, 31),
        [utc(2026, 11, 16, 12), utc(2026, 12, 15, 12), utc(2027, 1, 15, 12)],
    ),
    # 1W never leaves the month: 1 Aug 2026 is a Saturday -> Monday 3, not Friday 31 July.
    ("cron(0 12 1W * ? *)", utc(2026, 7, 15), [utc(2026, 8, 3, 12), utc(2026, 9, 1, 12)]),
    # 31W: 31 May 2026 is a Sunday -> Friday 29; June has no 31st; 31 Jul (Fri), 31 Aug (Mon).
    (
        "cron(0 12 31W * ? *)",
        utc(2026, 5, 1),
        [utc(2026, 5, 29, 12), utc(2026, 7, 31, 12), utc(2026, 8, 31, 12)],
    ),
    # LW: the last weekday of the month (31 May 2026 is a Sunday -> Friday 29).
    (
        "cron(0 12 LW * ? *)",
        utc(2026, 5, 1),
        [utc(2026, 5, 29, 12), utc(2026, 6, 30, 12), utc(2026, 7, 31, 12)],
    ),
    # A day-of-week range that wraps: Friday to Monday.
    (
        "cron(0 0 ? * FRI-MON *)",
        AFTER,
        [utc(2026, 5, 15), utc(2026, 5, 16), utc(2026, 5, 17), utc(2026, 5, 18), utc(2026, 5, 22)],
    ),
    # A month range that wraps, November to February.
    ("cron(0 0 1 NOV-FEB ? *)", AFTER, [utc(2026, 11, 1), utc(2026, 12, 1), utc(2027, 1, 1)]),
    # Names and wildcards are case-insensitive; first Monday of January to March.
    (
        "cron(0 9 ? jan-mar mon#1 *)",
        AFTER,
        [utc(2027, 1, 4, 9), utc(2027, 2, 1, 9), utc(2027, 3, 1, 9)],
    ),
    # */20 in minutes is the same as 0/20.
    (
        "cron(*/20 9 * * ? *)",
        AFTER,
        [utc(2026, 5, 14, 9, 0), utc(2026, 5, 14, 9, 20), utc(2026, 5, 14, 9, 40)],
    ),
    # Year increments count from 1970: 1970, 2020, 2070, 2120, 2170.
    ("cron(0 0 1 1 ? */50)", AFTER, [utc(2070, 1, 1), utc(2120, 1, 1), utc(2170, 1, 1)]),
    # Sparse: 29 February only exists in leap years.
    ("cron(0 0 29 2 ? *)", utc(2026, 1, 1), [utc(2028, 2, 29), utc(2032, 2, 29), utc(2036, 2, 29)]),
    # Sparser: a fifth Monday in February.
    (
        "cron(0 0 ? 2 2#5 *)",
        utc(2026, 1, 1),
        [utc(2044, 2, 29), utc(2072, 2, 29), utc(2112, 2, 29)],
    ),
    # Never: 30 February. The search stops at 2199.
    ("cron(0 0 30 2 ? *)", utc(2026, 1, 1), []),
    # The year field ends the schedule early.
    ("cron(0 0 1 1 ? 2199)", utc(2026, 1, 1), [utc(2199, 1, 1)]),
    ("cron(0 0 * * ? 2020-2025)", AFTER, []),
]


@pytest.mark.parametrize(("expression", "after", "expected"), CRON_CASES)
def test_cron_next_fire_times_in_utc(
    expression: str, after: datetime, expected: list[datetime]
) -> None:
    parsed = parse_expression(expression)
    assert isinstance(parsed, CronExpression)
    assert parsed.next_fire_times(after, len(expected) or 3) == expected


def test_results_are_utc_and_strictly_after_an_aware_non_utc_after() -> None:
    after = datetime(2026, 5, 13, 14, 0, tzinfo=PARIS)  # 12:00 UTC
    times = next_fire_times("cron(0/15 * * * ? *)", after, count=2)
    assert times == [utc(2026, 5, 13, 12, 15), utc(2026, 5, 13, 12, 30)]
    assert all(t.tzinfo is UTC for t in times)


def test_cron_start_is_a_lower_bound() -> None:
    cron = parse_expression("cron(0 10 * * ? *)")
    later = cron.next_fire_times(AFTER, 2, start=utc(2026, 6, 1, 10))
    assert later == [utc(2026, 6, 1, 10), utc(2026, 6, 2, 10)]
    earlier = cron.next_fire_times(AFTER, 1, start=utc(2020, 1, 1))
    assert earlier == [utc(2026, 5, 14, 10)]


def test_cron_fields_are_materialised() -> None:
    cron = parse_expression("cron(0/15 20-2 ? * MON-FRI 2026)")
    assert isinstance(cron, CronExpression)
    assert cron.minutes == (0, 15, 30, 45)
    assert cron.hours == (0, 1, 2, 20, 21, 22, 23)
    assert cron.months == tuple(range(1, 13))
    assert cron.years == (2026,)
    assert cron.expression == "cron(0/15 20-2 ? * MON-FRI 2026)"


def test_sparse_and_dense_expressions_terminate() -> None:
    # A date that never exists searches to 2199 and stops; a dense one yields every minute.
    assert next_fire_times("cron(0 0 30 2 ? *)", utc(1970, 1, 1), count=5) == []
    dense = next_fire_times("cron(* * * * ? *)", AFTER, count=20_000)
    assert len(dense) == 20_000
    assert dense[-1] - dense[0] == timedelta(minutes=19_999)


# --------------------------------------------------------------------------- cron, DST

DST_CASES: list[tuple[str, ZoneInfo, datetime, list[datetime]]] = [
    # 02:30 does not exist in New York on 8 Mar 2026: that day is skipped.
    # 7 Mar is EST (UTC-5), 9 and 10 Mar are EDT (UTC-4).
    (
        "cron(30 2 * * ? *)",
        NEW_YORK,
        utc(2026, 3, 7),
        [utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)],
    ),
    # Every half hour through the gap: 01:30 EST, then 03:00 EDT (02:00 and 02:30 skipped).
    (
        "cron(0/30 * * * ? *)",
        NEW_YORK,
        utc(2026, 3, 8, 6, 15),
        [utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 8, 7, 30)],
    ),
    # 02:30 on 1 Nov 2026 is after the fall-back and occurs once (EST): no special case.
    (
        "cron(30 2 * * ? *)",
        NEW_YORK,
        utc(2026, 10, 31),
        [utc(2026, 10, 31, 6, 30), utc(2026, 11, 1, 7, 30), utc(2026, 11, 2, 7, 30)],
    ),
    # 01:30 happens twice on 1 Nov 2026 (EDT, then EST): it runs once, at the first (EDT).
    (
        "cron(30 1 * * ? *)",
        NEW_YORK,
        utc(2026, 10, 31),
        [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
    ),
    # Every half hour through the repeated hour: 01:00 and 01:30 EDT, not again in EST.
    (
        "cron(0/30 * * * ? *)",
        NEW_YORK,
        utc(2026, 11, 1, 4, 45),
        [utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 7, 0)],
    ),
    # 08:00 in Paris: 07:00 UTC in CET, 06:00 UTC from 29 Mar 2026 (CEST).
    (
        "cron(0 8 * * ? *)",
        PARIS,
        utc(2026, 3, 28),
        [utc(2026, 3, 28, 7), utc(2026, 3, 29, 6), utc(2026, 3, 30, 6)],
    ),
    # 02:30 does not exist in Paris on 29 Mar 2026.
    (
        "cron(30 2 * * ? *)",
        PARIS,
        utc(2026, 3, 28),
        [utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)],
    ),
    # A zone without DST is a fixed offset (Tokyo is UTC+9).
    (
        "cron(0 9 * * ? *)",
        ZoneInfo("Asia/Tokyo"),
        AFTER,
        [utc(2026, 5, 14, 0), utc(2026, 5, 15, 0), utc(2026, 5, 16, 0)],
    ),
]


@pytest.mark.parametrize(("expression", "zone", "after", "expected"), DST_CASES)
def test_cron_in_a_time_zone_follows_scheduler_dst_rules(
    expression: str, zone: ZoneInfo, after: datetime, expected: list[datetime]
) -> None:
    assert parse_expression(expression).next_fire_times(after, 3, tz=zone) == expected


def test_convenience_function_takes_a_zone_name() -> None:
    times = next_fire_times("cron(30 2 * * ? *)", utc(2026, 3, 7), tz="America/New_York")
    assert times == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]


def test_convenience_function_rejects_an_unknown_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        next_fire_times("cron(0 8 * * ? *)", AFTER, tz="Mars/Olympus")


# --------------------------------------------------------------------------- rate

RATE_CASES: list[tuple[str, datetime, datetime | None, list[datetime]]] = [
    # Anchored at the start (rule creation / StartDate), not at the top of the minute.
    (
        "rate(5 minutes)",
        utc(2026, 1, 1, 0, 7),
        utc(2026, 1, 1, 0, 0),
        [utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 0, 20)],
    ),
    # Without a start the anchor is `after` itself.
    (
        "rate(1 minute)",
        datetime(2026, 5, 13, 12, 0, 30, tzinfo=UTC),
        None,
        [
            datetime(2026, 5, 13, 12, 1, 30, tzinfo=UTC),
            datetime(2026, 5, 13, 12, 2, 30, tzinfo=UTC),
            datetime(2026, 5, 13, 12, 3, 30, tzinfo=UTC),
        ],
    ),
    (
        "rate(1 hour)",
        AFTER,
        utc(2026, 5, 13, 9, 20),
        [utc(2026, 5, 13, 12, 20), utc(2026, 5, 13, 13, 20), utc(2026, 5, 13, 14, 20)],
    ),
    # A fire exactly at `after` is not returned.
    (
        "rate(6 hours)",
        AFTER,
        utc(2026, 5, 13, 0, 0),
        [utc(2026, 5, 13, 18), utc(2026, 5, 14, 0), utc(2026, 5, 14, 6)],
    ),
    # A future StartDate is the first occurrence.
    (
        "rate(2 days)",
        AFTER,
        utc(2026, 5, 20, 8),
        [utc(2026, 5, 20, 8), utc(2026, 5, 22, 8), utc(2026, 5, 24, 8)],
    ),
    (
        "rate(1 day)",
        AFTER,
        utc(2026, 5, 10, 6),
        [utc(2026, 5, 14, 6), utc(2026, 5, 15, 6), utc(2026, 5, 16, 6)],
    ),
]


@pytest.mark.parametrize(("expression", "after", "start", "expected"), RATE_CASES)
def test_rate_next_fire_times(
    expression: str, after: datetime, start: datetime | None, expected: list[datetime]
) -> None:
    parsed = parse_expression(expression)
    assert isinstance(parsed, RateExpression)
    assert parsed.next_fire_times(after, 3, start=start) == expected


def test_rate_days_are_24_hours_across_dst() -> None:
    # "days represents a 24-hour duration on the clock": the New York wall time moves.
    start = datetime(2026, 3, 7, 7, 0, tzinfo=NEW_YORK)  # 12:00 UTC, EST
    times = parse_expression("rate(1 day)").next_fire_times(start, 2, tz=NEW_YORK, start=start)
    assert times == [utc(2026, 3, 8, 12), utc(2026, 3, 9, 12)]
    assert all(t.tzinfo is UTC for t in times)


@pytest.mark.parametrize(
    ("expression", "value", "unit", "period"),
    [
        ("rate(1 minute)", 1, "minute", timedelta(minutes=1)),
        ("rate(15 minutes)", 15, "minute", timedelta(minutes=15)),
        ("rate(1 hour)", 1, "hour", timedelta(hours=1)),
        ("rate(2 hours)", 2, "hour", timedelta(hours=2)),
        ("rate(1 day)", 1, "day", timedelta(days=1)),
        ("rate(5 days)", 5, "day", timedelta(days=5)),
    ],
)
def test_rate_parsing(expression: str, value: int, unit: str, period: timedelta) -> None:
    assert parse_expression(expression) == RateExpression(expression, value, unit)
    assert RateExpression(expression, value, unit).period == period


# --------------------------------------------------------------------------- at


def test_at_uses_the_time_zone() -> None:
    # The Scheduler docs' example: "runs once at 1pm UTC-8 on November 20, 2022".
    at = parse_expression("at(2022-11-20T13:00:00)")
    assert at == AtExpression("at(2022-11-20T13:00:00)", datetime(2022, 11, 20, 13, 0))
    assert at.next_fire_times(utc(2022, 1, 1), 3, tz=LOS_ANGELES) == [utc(2022, 11, 20, 21)]


def test_at_defaults_to_utc_and_ignores_start() -> None:
    at = parse_expression("at(2026-06-01T08:30:00)")
    assert at.next_fire_times(AFTER, 3, start=utc(2030, 1, 1)) == [utc(2026, 6, 1, 8, 30)]


@pytest.mark.parametrize(
    ("after", "count"),
    [(utc(2026, 6, 1, 8, 30), 3), (utc(2027, 1, 1), 3), (utc(2026, 1, 1), 0)],
)
def test_at_in_the_past_or_no_count_gives_nothing(after: datetime, count: int) -> None:
    assert parse_expression("at(2026-06-01T08:30:00)").next_fire_times(after, count) == []


# --------------------------------------------------------------------------- invalid

INVALID_CASES: list[tuple[str, str]] = [
    ("cron(0 8 * * * *)", "day-of-month and day-of-week cannot both be specified; one must be '?'"),
    ("cron(0 8 1 * MON *)", "cannot both be specified; one must be '?'"),
    ("cron(0 8 ? * ? *)", "day-of-month and day-of-week cannot both be '?'"),
    (
        "cron(0 8 * * ?)",
        "expected 6 fields (minutes hours day-of-month month day-of-week year), got 5",
    ),
    ("cron(0 0 8 * * ? *)", "expected 6 fields"),
    ("cron(60 8 * * ? *)", "minutes field '60': value 60 is outside 0-59"),
    ("cron(0 24 * * ? *)", "hours field '24': value 24 is outside 0-23"),
    ("cron(0 8 0 * ? *)", "day-of-month field '0': value 0 is outside 1-31"),
    ("cron(0 8 32 * ? *)", "day-of-month field '32': value 32 is outside 1-31"),
    ("cron(0 8 * 13 ? *)", "month field '13': value 13 is outside 1-12"),
    ("cron(0 8 * FOO ? *)", "month field 'FOO': 'FOO' is not a number or name"),
    ("cron(0 8 ? * 0 *)", "day-of-week field '0': value 0 is outside 1-7"),
    ("cron(0 8 ? * 8 *)", "day-of-week field '8': value 8 is outside 1-7"),
    ("cron(0 8 * * ? 2200)", "year field '2200': value 2200 is outside 1970-2199"),
    ("cron(0 8 * * ? 1969)", "year field '1969': value 1969 is outside 1970-2199"),
    ("cron(0 8 * * ? 2030-2025)", "year field '2030-2025': range '2030-2025' runs backwards"),
    ("cron(5-70 8 * * ? *)", "minutes field '5-70': value 70 is outside 0-59"),
    ("cron(1-2-3 8 * * ? *)", "minutes field '1-2-3': '2-3' is not a number"),
    ("cron(1,,2 8 * * ? *)", "minutes field '1,,2': '' is not a number"),
    ("cron(0/0 8 * * ? *)", "increment '0' must be a whole number from 1 to 59"),
    ("cron(0/60 8 * * ? *)", "increment '60' must be a whole number from 1 to 59"),
    ("cron(? 8 * * ? *)", "minutes field '?': '?' is only allowed on its own"),
    ("cron(0 8 1,? * ? *)", "'?' is only allowed on its own"),
    ("cron(0 8 L * ? *", "missing the closing ')'"),
    ("cron(0 8 1-15W * ? *)", "day-of-month field '1-15W': 'W' must follow a single day"),
    ("cron(0 8 W * ? *)", "'W' must follow a single day"),
    ("cron(0 8 1W,15 * ? *)", "'L' and 'W' cannot be combined with other values in a list"),
    ("cron(0 8 L,15 * ? *)", "'L' and 'W' cannot be combined with other values in a list"),
    ("cron(0 8 32W * ? *)", "day-of-month field '32W': value 32 is outside 1-31"),
    ("cron(0 8 L-31 * ? *)", "offset 31 after 'L-' must be from 1 to 30"),
    ("cron(0 8 L-0 * ? *)", "offset 0 after 'L-' must be from 1 to 30"),
    ("cron(0 8 ? * 3#1,6#3 *)", "with '#' the field must hold a single expression"),
    ("cron(0 8 ? * 3#6 *)", "the number after '#' must be from 1 to 5"),
    ("cron(0 8 ? * 8#1 *)", "day-of-week field '8#1': value 8 is outside 1-7"),
    ("cron(0 8 ? * 2,6L *)", "'L' cannot be combined with other values in a list"),
    ("cron(0 8 ? * 6LL *)", "'L' must stand alone or follow a single day"),
    ("cron(0 8 ? * MON/2 *)", "'/' is not allowed in day-of-week"),
    ("cron(0 8 L * 2 *)", "cannot both be specified"),
    ("0 8 * * ? *", "expected cron(...), rate(...) or at(...)"),
    ("CRON(0 8 * * ? *)", "expected cron(...), rate(...) or at(...)"),
    ("rate(0 minutes)", "value '0' must be a positive whole number"),
    ("rate(-5 minutes)", "value '-5' must be a positive whole number"),
    ("rate(1.5 hours)", "value '1.5' must be a positive whole number"),
    ("rate(1 minutes)", "a value of 1 needs the singular unit 'minute', not 'minutes'"),
    ("rate(1 hours)", "a value of 1 needs the singular unit 'hour'"),
    ("rate(5 minute)", "a value of 5 needs the plural unit 'minutes'"),
    ("rate(5 hour)", "a value of 5 needs the plural unit 'hours'"),
    ("rate(5 seconds)", "unit 'seconds' must be one of minute, minutes, hour, hours, day, days"),
    ("rate(2 weeks)", "unit 'weeks' must be one of"),
    ("rate(5)", "expected rate(value unit)"),
    ("rate(5 minutes 3)", "expected rate(value unit)"),
    ("at(2026-13-01T00:00:00)", "'2026-13-01T00:00:00' is not a valid date and time"),
    ("at(2026-02-29T00:00:00)", "is not a valid date and time"),
    ("at(2026-01-01 00:00:00)", "expected at(yyyy-mm-ddThh:mm:ss)"),
    ("at(2026-01-01T00:00)", "expected at(yyyy-mm-ddThh:mm:ss)"),
    ("", "schedule expression is empty"),
    ("   ", "schedule expression is empty"),
]


@pytest.mark.parametrize(("expression", "fragment"), INVALID_CASES)
def test_invalid_expressions_are_rejected_with_a_reason(expression: str, fragment: str) -> None:
    with pytest.raises(ScheduleExpressionError) as caught:
        parse_expression(expression)
    assert fragment in str(caught.value)
    if expression.strip():
        assert str(caught.value).startswith(f"{expression}: ")


def test_error_message_names_the_expression_exactly() -> None:
    with pytest.raises(ScheduleExpressionError) as caught:
        parse_expression("cron(0 8 * * * *)")
    assert str(caught.value) == (
        "cron(0 8 * * * *): day-of-month and day-of-week cannot both be specified; one must be '?'"
    )


def test_overlong_expression_is_rejected() -> None:
    text = "cron(" + "0," * 130 + "0 8 * * ? *)"
    assert len(text) > MAX_EXPRESSION_LENGTH
    with pytest.raises(ScheduleExpressionError, match="AWS allows at most 256"):
        parse_expression(text)


def test_schedule_expression_error_is_a_value_error() -> None:
    assert issubclass(ScheduleExpressionError, ValueError)


# --------------------------------------------------------------------------- validate


def test_validate_expression_names_the_schedule() -> None:
    with pytest.raises(ScheduleExpressionError) as caught:
        validate_expression("cron(0 8 * * * *)", name="DailyDigest")
    assert str(caught.value) == (
        "schedule 'DailyDigest': cron(0 8 * * * *): day-of-month and day-of-week cannot "
        "both be specified; one must be '?'"
    )
    assert isinstance(caught.value.__cause__, ScheduleExpressionError)


def test_validate_expression_returns_the_parsed_expression() -> None:
    parsed = validate_expression("rate(5 minutes)", name="Sweep")
    assert parsed == RateExpression("rate(5 minutes)", 5, "minute")


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "expression", ["cron(0 8 * * ? *)", "rate(1 hour)", "at(2030-01-01T00:00:00)"]
)
def test_naive_datetimes_are_refused(expression: str) -> None:
    parsed = parse_expression(expression)
    with pytest.raises(ValueError, match="after must be a timezone-aware datetime"):
        parsed.next_fire_times(datetime(2026, 1, 1), 1)
    with pytest.raises(ValueError, match="start must be a timezone-aware datetime"):
        parsed.next_fire_times(AFTER, 1, start=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "expression", ["cron(0 8 * * ? *)", "rate(1 hour)", "at(2030-01-01T00:00:00)"]
)
def test_count_zero_and_negative(expression: str) -> None:
    parsed = parse_expression(expression)
    assert parsed.next_fire_times(AFTER, 0) == []
    with pytest.raises(ValueError, match="count must not be negative"):
        parsed.next_fire_times(AFTER, -1)


def test_convenience_function_defaults_to_three_results() -> None:
    assert next_fire_times("rate(1 hour)", AFTER) == [
        utc(2026, 5, 13, 13),
        utc(2026, 5, 13, 14),
        utc(2026, 5, 13, 15),
    ]

"""AWS schedule expressions: parse, validate and compute fire times (pure, no I/O).

Covers the three forms Amazon EventBridge accepts:

* ``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` (rules and Scheduler),
* ``rate(value unit)`` (rules and Scheduler),
* ``at(yyyy-mm-ddThh:mm:ss)`` (Scheduler one-time schedules).

Sources: "Cron expressions reference" / "Rate expressions reference" in the EventBridge User
Guide (docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html,
eb-rate-expressions.html) and "Schedule types on EventBridge Scheduler"
(docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). Where the docs are
silent (``L-n``, ``LW``, ``5L``, wrap-around ranges, increment bounds, ``L``/``W`` in lists) the
parser follows Quartz's CronExpression, which AWS's dialect is modelled on.
"""

# Our own parser on purpose: third-party cron libraries (croniter and friends) implement unix
# cron and do not know AWS's '?', 'L', 'W' and '#' rules or its year field.

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol, TypeAlias, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "AtExpression",
    "CronExpression",
    "RateExpression",
    "ScheduleExpression",
    "ScheduleExpressionError",
    "next_fire_times",
    "parse_expression",
    "validate_expression",
]

#: ``ScheduleExpression`` length limit of both PutRule and CreateSchedule.
MAX_EXPRESSION_LENGTH = 256
MIN_YEAR = 1970
MAX_YEAR = 2199

_T = TypeVar("_T")

_MONTH_NAMES: Mapping[str, int] = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
        start=1,
    )
}
# AWS numbers the week from Sunday: 1=SUN ... 7=SAT.
_DAY_NAMES: Mapping[str, int] = {
    name: number
    for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)
}
_SATURDAY = 7
_SUNDAY = 1

_RATE_UNITS: Mapping[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
_AT_FORMAT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")
_LAST_DAY = re.compile(r"L(?:-([0-9]+))?")
_NEAREST_WEEKDAY = re.compile(r"([0-9]+)W")


class ScheduleExpressionError(ValueError):
    """A schedule expression that EventBridge would reject."""


class _Invalid(Exception):
    """Internal: why an expression is invalid, before the expression text is prepended."""


# --------------------------------------------------------------------------- field parsing


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    minimum: int
    maximum: int
    max_step: int
    names: Mapping[str, int] = field(default_factory=dict)
    wraps: bool = True


_MINUTES = _FieldSpec("minutes", 0, 59, max_step=59)
_HOURS = _FieldSpec("hours", 0, 23, max_step=23)
_DAY_OF_MONTH = _FieldSpec("day-of-month", 1, 31, max_step=31)
_MONTHS = _FieldSpec("month", 1, 12, max_step=12, names=_MONTH_NAMES)
_DAY_OF_WEEK = _FieldSpec("day-of-week", 1, 7, max_step=7, names=_DAY_NAMES)
_YEARS = _FieldSpec("year", MIN_YEAR, MAX_YEAR, max_step=MAX_YEAR - MIN_YEAR, wraps=False)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _parse_value(text: str, spec: _FieldSpec) -> int:
    """One number (or JAN/MON-style name) within the field's bounds."""
    if text in spec.names:
        return spec.names[text]
    if not _is_number(text):
        kind = "a number or name" if spec.names else "a number"
        raise _Invalid(f"{text!r} is not {kind}")
    value = int(text)
    if not spec.minimum <= value <= spec.maximum:
        raise _Invalid(f"value {value} is outside {spec.minimum}-{spec.maximum}")
    return value


def _parse_step(text: str, spec: _FieldSpec) -> int:
    if not _is_number(text) or not 1 <= int(text) <= spec.max_step:
        raise _Invalid(f"increment {text!r} must be a whole number from 1 to {spec.max_step}")
    return int(text)


def _parse_range(text: str, spec: _FieldSpec) -> tuple[int, int]:
    first, _, last = text.partition("-")
    start, end = _parse_value(first, spec), _parse_value(last, spec)
    if start > end and not spec.wraps:
        raise _Invalid(f"range {text!r} runs backwards")
    return start, end


def _sequence(start: int, end: int, step: int, spec: _FieldSpec) -> list[int]:
    """``start..end`` every ``step``; ``end < start`` wraps (AWS's own example: hours 20-2)."""
    if start <= end:
        return list(range(start, end + 1, step))
    wrapped = [*range(start, spec.maximum + 1), *range(spec.minimum, end + 1)]
    return wrapped[::step]


def _parse_item(item: str, spec: _FieldSpec) -> list[int]:
    """One comma-separated item: ``*``, ``v``, ``a-b``, each optionally followed by ``/step``."""
    base, slash, step_text = item.partition("/")
    step = _parse_step(step_text, spec) if slash else 1
    if base == "*":
        start, end = spec.minimum, spec.maximum
    elif "-" in base:
        start, end = _parse_range(base, spec)
    else:
        start = _parse_value(base, spec)
        end = spec.maximum if slash else start
    return _sequence(start, end, step, spec)


def _parse_values(raw: str, spec: _FieldSpec) -> tuple[int, ...]:
    """A field made of the ``, - * /`` wildcards only, as a sorted tuple of values."""
    if "?" in raw:
        raise _Invalid("'?' is only allowed on its own, in day-of-month or day-of-week")
    values: set[int] = set()
    for item in raw.split(","):
        values.update(_parse_item(item, spec))
    return tuple(sorted(values))


def _in_field(name: str, raw: str, parse: Callable[[str], _T]) -> _T:
    try:
        return parse(raw)
    except _Invalid as exc:
        raise _Invalid(f"{name} field {raw!r}: {exc}") from None


# --------------------------------------------------------------------------- day rules


def _aws_weekday(year: int, month: int, day: int) -> int:
    """AWS day-of-week number (1=SUN ... 7=SAT) of a date."""
    return (date(year, month, day).weekday() + 1) % 7 + 1


def _month_length(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


class _DayRule(Protocol):
    def days(self, year: int, month: int) -> list[int]:
        """Days of ``year``/``month`` that the rule selects, ascending."""
        ...


@dataclass(frozen=True)
class _DayNumbers:
    """Plain day-of-month values (``1,15``, ``1-7``, ``*``, ``1/5``)."""

    numbers: tuple[int, ...]

    def days(self, year: int, month: int) -> list[int]:
        length = _month_length(year, month)
        return [day for day in self.numbers if day <= length]


@dataclass(frozen=True)
class _LastDayOfMonth:
    """``L`` (offset 0) or ``L-n``: the last day of the month, minus ``offset`` days."""

    offset: int

    def days(self, year: int, month: int) -> list[int]:
        day = _month_length(year, month) - self.offset
        return [day] if day >= 1 else []


@dataclass(frozen=True)
class _LastWeekdayOfMonth:
    """``LW``: the last Monday-to-Friday day of the month."""

    def days(self, year: int, month: int) -> list[int]:
        last = _month_length(year, month)
        weekday = _aws_weekday(year, month, last)
        back = {_SATURDAY: 1, _SUNDAY: 2}.get(weekday, 0)
        return [last - back]


@dataclass(frozen=True)
class _NearestWeekday:
    """``nW``: the weekday nearest day ``n``, never leaving the month (Quartz rules)."""

    day: int

    def days(self, year: int, month: int) -> list[int]:
        length = _month_length(year, month)
        if self.day > length:
            return []
        weekday = _aws_weekday(year, month, self.day)
        if weekday == _SATURDAY:
            return [self.day - 1] if self.day > 1 else [self.day + 2]
        if weekday == _SUNDAY:
            return [self.day + 1] if self.day < length else [self.day - 2]
        return [self.day]


@dataclass(frozen=True)
class _Weekdays:
    """Plain day-of-week values (``MON-FRI``, ``1,7``, ``*``; ``L`` alone is Saturday)."""

    weekdays: tuple[int, ...]

    def days(self, year: int, month: int) -> list[int]:
        first = _aws_weekday(year, month, 1)
        return [
            day
            for day in range(1, _month_length(year, month) + 1)
            if (first + day - 2) % 7 + 1 in self.weekdays
        ]


@dataclass(frozen=True)
class _NthWeekday:
    """``d#n``: the ``n``-th weekday ``d`` of the month (``3#2`` = second Tuesday)."""

    weekday: int
    nth: int

    def days(self, year: int, month: int) -> list[int]:
        first = 1 + (self.weekday - _aws_weekday(year, month, 1)) % 7
        day = first + 7 * (self.nth - 1)
        return [day] if day <= _month_length(year, month) else []


@dataclass(frozen=True)
class _LastWeekdayInMonth:
    """``dL``: the last weekday ``d`` of the month (``6L`` = last Friday)."""

    weekday: int

    def days(self, year: int, month: int) -> list[int]:
        last = _month_length(year, month)
        return [last - (_aws_weekday(year, month, last) - self.weekday) % 7]


def _parse_day_of_month(raw: str) -> _DayRule:
    """Day-of-month: ``, - * /`` plus ``L``, ``L-n``, ``LW`` and ``nW``."""
    if "L" not in raw and "W" not in raw:
        return _DayNumbers(_parse_values(raw, _DAY_OF_MONTH))
    if "," in raw:
        raise _Invalid("'L' and 'W' cannot be combined with other values in a list")
    if raw == "LW":
        return _LastWeekdayOfMonth()
    if last := _LAST_DAY.fullmatch(raw):
        offset = int(last.group(1) or 0)
        if last.group(1) is not None and not 1 <= offset <= 30:
            raise _Invalid(f"offset {offset} after 'L-' must be from 1 to 30")
        return _LastDayOfMonth(offset)
    if nearest := _NEAREST_WEEKDAY.fullmatch(raw):
        return _NearestWeekday(_parse_value(nearest.group(1), _DAY_OF_MONTH))
    raise _Invalid("'W' must follow a single day (e.g. 15W); 'L' stands alone (L, L-3 or LW)")


def _parse_nth_weekday(raw: str) -> _DayRule:
    if "," in raw:
        # AWS: "If you use a '#' character, you can define only one expression in the
        # day-of-week field. For example, "3#1,6#3" is not valid."
        raise _Invalid("with '#' the field must hold a single expression (3#1,6#3 is invalid)")
    day_text, _, nth_text = raw.partition("#")
    weekday = _parse_value(day_text, _DAY_OF_WEEK)
    if nth_text not in {"1", "2", "3", "4", "5"}:
        raise _Invalid(f"the number after '#' must be from 1 to 5, not {nth_text!r}")
    return _NthWeekday(weekday, int(nth_text))


def _parse_last_weekday(raw: str) -> _DayRule:
    if "," in raw:
        raise _Invalid("'L' cannot be combined with other values in a list")
    if raw == "L":
        return _Weekdays((_SATURDAY,))  # "L" alone: the last day of the week
    if raw.count("L") != 1 or not raw.endswith("L"):
        raise _Invalid("'L' must stand alone or follow a single day (e.g. 6L = last Friday)")
    return _LastWeekdayInMonth(_parse_value(raw[:-1], _DAY_OF_WEEK))


def _parse_day_of_week(raw: str) -> _DayRule:
    """Day-of-week: ``, - *`` plus ``L``, ``dL`` and ``d#n`` (the docs list no ``/`` here)."""
    if "#" in raw:
        return _parse_nth_weekday(raw)
    if "L" in raw:  # no day name contains an L
        return _parse_last_weekday(raw)
    if "/" in raw:
        raise _Invalid("'/' is not allowed in day-of-week (allowed: , - * ? L #)")
    return _Weekdays(_parse_values(raw, _DAY_OF_WEEK))


def _check_day_fields(day_of_month: str, day_of_week: str) -> None:
    if day_of_month == "?" and day_of_week == "?":
        raise _Invalid("day-of-month and day-of-week cannot both be '?'; exactly one must be '?'")
    if day_of_month != "?" and day_of_week != "?":
        raise _Invalid("day-of-month and day-of-week cannot both be specified; one must be '?'")


# --------------------------------------------------------------------------- time helpers


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _check_request(after: datetime, count: int, start: datetime | None) -> None:
    _require_aware(after, "after")
    if start is not None:
        _require_aware(start, "start")
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")


def _wall_to_utc(wall: datetime, zone: tzinfo) -> datetime | None:
    """UTC instant of a naive wall-clock time in ``zone``, per EventBridge Scheduler's DST rules.

    "When time shifts forward in the Spring, if a cron expression falls on a non-existent date
    and time, your schedule invocation is skipped. When time shifts backwards in the Fall, your
    schedule runs only once and does not repeat its invocation." -- EventBridge Scheduler User
    Guide, "Daylight savings time on EventBridge Scheduler" (schedule-types.html).
    So: a wall time inside the spring-forward gap gives None (skipped), and a repeated wall time
    resolves with fold=0, i.e. only its first occurrence, before the shift.
    """
    fire = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if fire.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return fire


# --------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class CronExpression:
    """A parsed ``cron(...)`` expression.

    Attributes:
        expression: The original text.
        minutes: Matching minutes, ascending.
        hours: Matching hours, ascending.
        months: Matching months (1-12), ascending.
        years: Matching years (1970-2199), ascending.
        day_rule: Whichever of day-of-month / day-of-week is not ``?``.
    """

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_rule: _DayRule

    def next_fire_times(
        self,
        after: datetime,
        count: int,
        tz: ZoneInfo | None = None,
        start: datetime | None = None,
    ) -> list[datetime]:
        """Up to ``count`` fire times strictly after ``after``, as aware UTC datetimes.

        Args:
            after: Aware datetime; results are strictly later.
            count: Maximum number of results.
            tz: Zone the fields are evaluated in (Scheduler's ``ScheduleExpressionTimezone``);
                None means UTC, as for EventBridge rules.
            start: Scheduler ``StartDate``: no result is earlier than it.

        Returns:
            Fewer than ``count`` times when the schedule ends (its years, or 2199) first.
        """
        _check_request(after, count, start)
        zone: tzinfo = tz or UTC
        floor = after if start is None else max(after, start)
        results: list[datetime] = []
        for wall in self._wall_times(floor.astimezone(zone).date()):
            if len(results) >= count:
                break
            fire = _wall_to_utc(wall, zone)
            if fire is not None and fire > after and fire >= floor:
                results.append(fire)
        return results

    def _wall_times(self, first: date) -> Iterator[datetime]:
        for day in self._dates(first):
            for hour in self.hours:
                for minute in self.minutes:
                    yield datetime(day.year, day.month, day.day, hour, minute)

    def _dates(self, first: date) -> Iterator[date]:
        """Matching dates from ``first`` on: iterate years and months, not every day."""
        for year in self.years:
            if year < first.year:
                continue
            for month in self.months:
                if (year, month) < (first.year, first.month):
                    continue
                for day in self.day_rule.days(year, month):
                    if date(year, month, day) >= first:
                        yield date(year, month, day)


@dataclass(frozen=True)
class RateExpression:
    """A parsed ``rate(value unit)`` expression.

    Attributes:
        expression: The original text.
        value: The positive number of units.
        unit: ``minute``, ``hour`` or ``day`` (singular, whatever the text said).
    """

    expression: str
    value: int
    unit: str

    @property
    def period(self) -> timedelta:
        """Time between two invocations."""
        return self.value * _RATE_UNITS[self.unit]

    def next_fire_times(
        self,
        after: datetime,
        count: int,
        tz: ZoneInfo | None = None,
        start: datetime | None = None,
    ) -> list[datetime]:
        """Up to ``count`` times ``anchor + k * period`` strictly after ``after``, in UTC.

        A rule's rate "starts when you create the scheduled event rule"; a Scheduler rate
        schedule starts at its ``StartDate`` (immediately without one). ``tz`` is ignored: a
        day is "a 24-hour duration on the clock" even across a DST change (Scheduler guide).

        Args:
            after: Aware datetime; results are strictly later.
            count: Maximum number of results.
            tz: Ignored (rate periods are absolute durations).
            start: The anchor (rule creation time / ``StartDate``); defaults to ``after``.
        """
        _check_request(after, count, start)
        anchor = (after if start is None else start).astimezone(UTC)
        period = self.period
        first = 0 if anchor > after else (after - anchor) // period + 1
        results: list[datetime] = []
        for k in range(first, first + count):
            try:
                results.append(anchor + k * period)
            except OverflowError:
                break
        return results


@dataclass(frozen=True)
class AtExpression:
    """A parsed ``at(yyyy-mm-ddThh:mm:ss)`` one-time expression.

    Attributes:
        expression: The original text.
        when: The naive wall-clock time, read in the schedule's time zone.
    """

    expression: str
    when: datetime

    def next_fire_times(
        self,
        after: datetime,
        count: int,
        tz: ZoneInfo | None = None,
        start: datetime | None = None,
    ) -> list[datetime]:
        """The single fire time (in UTC) if it is after ``after`` and ``count`` > 0, else [].

        ``start`` is ignored: "EventBridge Scheduler ignores the StartDate and EndDate you
        specify" for one-time schedules. A wall time in a DST gap (which AWS does not document)
        is read with fold=0, i.e. with the offset in force before the change.
        """
        _check_request(after, count, start)
        fire = self.when.replace(tzinfo=tz or UTC).astimezone(UTC)
        return [fire] if count > 0 and fire > after else []


ScheduleExpression: TypeAlias = CronExpression | RateExpression | AtExpression


# --------------------------------------------------------------------------- entry points


def _parse_cron(text: str, body: str) -> CronExpression:
    fields = body.upper().split()  # names and L/W are case-insensitive, as in the console
    if len(fields) != 6:
        raise _Invalid(
            "expected 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}"
        )
    minute, hour, day_of_month, month, day_of_week, year = fields
    _check_day_fields(day_of_month, day_of_week)
    if day_of_week == "?":
        day_rule = _in_field("day-of-month", day_of_month, _parse_day_of_month)
    else:
        day_rule = _in_field("day-of-week", day_of_week, _parse_day_of_week)
    return CronExpression(
        expression=text,
        minutes=_in_field("minutes", minute, lambda t: _parse_values(t, _MINUTES)),
        hours=_in_field("hours", hour, lambda t: _parse_values(t, _HOURS)),
        months=_in_field("month", month, lambda t: _parse_values(t, _MONTHS)),
        years=_in_field("year", year, lambda t: _parse_values(t, _YEARS)),
        day_rule=day_rule,
    )


def _parse_rate(text: str, body: str) -> RateExpression:
    parts = body.split()
    if len(parts) != 2:
        raise _Invalid("expected rate(value unit), e.g. rate(5 minutes)")
    value_text, unit = parts
    if not _is_number(value_text) or int(value_text) < 1:
        raise _Invalid(f"value {value_text!r} must be a positive whole number")
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise _Invalid(f"unit {unit!r} must be one of minute, minutes, hour, hours, day, days")
    value = int(value_text)
    # "If the value is equal to 1, then the unit must be singular. If the value is greater
    # than 1, the unit must be plural." (EventBridge rate expressions reference)
    if value == 1 and unit != singular:
        raise _Invalid(f"a value of 1 needs the singular unit {singular!r}, not {unit!r}")
    if value > 1 and unit == singular:
        raise _Invalid(f"a value of {value} needs the plural unit {singular + 's'!r}")
    return RateExpression(expression=text, value=value, unit=singular)


def _parse_at(text: str, body: str) -> AtExpression:
    if not _AT_FORMAT.fullmatch(body):
        raise _Invalid("expected at(yyyy-mm-ddThh:mm:ss)")
    try:
        when = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise _Invalid(f"{body!r} is not a valid date and time") from None
    return AtExpression(expression=text, when=when)


_PARSERS: tuple[tuple[str, Callable[[str, str], ScheduleExpression]], ...] = (
    ("cron(", _parse_cron),
    ("rate(", _parse_rate),
    ("at(", _parse_at),
)


def _parse(text: str) -> ScheduleExpression:
    for prefix, parser in _PARSERS:
        if text.startswith(prefix):
            if not text.endswith(")"):
                raise _Invalid("missing the closing ')'")
            return parser(text, text[len(prefix) : -1])
    raise _Invalid("expected cron(...), rate(...) or at(...)")


def parse_expression(text: str) -> ScheduleExpression:
    """Parse and validate an AWS schedule expression.

    Args:
        text: ``cron(...)``, ``rate(...)`` or ``at(...)``.

    Returns:
        The matching frozen expression object.

    Raises:
        ScheduleExpressionError: If EventBridge would reject the expression.
    """
    if not text.strip():
        raise ScheduleExpressionError("schedule expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ScheduleExpressionError(
            f"schedule expression is {len(text)} characters long; "
            f"AWS allows at most {MAX_EXPRESSION_LENGTH}"
        )
    try:
        return _parse(text)
    except _Invalid as exc:
        raise ScheduleExpressionError(f"{text}: {exc}") from None


def validate_expression(text: str, *, name: str) -> ScheduleExpression:
    """Like :func:`parse_expression`, naming the rule or schedule in any error.

    Raises:
        ScheduleExpressionError: ``"schedule '<name>': <reason>"``.
    """
    try:
        return parse_expression(text)
    except ScheduleExpressionError as exc:
        raise ScheduleExpressionError(f"schedule {name!r}: {exc}") from exc


def next_fire_times(
    expression: str, after: datetime, count: int = 3, tz: str | None = None
) -> list[datetime]:
    """Parse ``expression`` and return its next ``count`` fire times after ``after`` (UTC).

    Args:
        expression: Any schedule expression.
        after: Aware datetime; results are strictly later.
        count: Maximum number of results.
        tz: IANA zone name (``ScheduleExpressionTimezone``); None means UTC.

    Raises:
        ScheduleExpressionError: If the expression is invalid.
        ValueError: If ``tz`` is not a known time zone.
    """
    zone = None
    if tz is not None:
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {tz!r}") from exc
    return parse_expression(expression).next_fire_times(after, count, tz=zone)

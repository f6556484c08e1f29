"""Due dates from what people type, resolved in the caller's time zone, with repeating rules.

`parse_due` reads a phrase ("tomorrow at 9", "dec 24", "every monday at 9am", ISO 8601) relative to an
aware `now` in an IANA zone and returns a `Due`; `next_occurrence` moves a repeating due on when its task is
completed; `describe_due` says a due for people; `split_due_phrase` finds a due phrase at either end of a
sentence. Everything here is a pure function of its arguments: no clock, no database. How ambiguous texts
resolve is stated once, in `AMBIGUITY_RULES`, for tool descriptions.
"""

from __future__ import annotations

import datetime as dt
import re
from calendar import isleap, monthrange
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache, partial
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo, available_timezones

Unit = Literal["day", "week", "month", "year"]
_UNIT_NAMES: Final[dict[str, Unit]] = {"day": "day", "week": "week", "month": "month", "year": "year"}

MAX_TEXT_LENGTH: Final = 200
MAX_INTERVAL: Final = 999
MIN_YEAR: Final = 1900
MAX_YEAR: Final = 2999

AMBIGUITY_RULES: Final = (
    "Dates resolve in the caller's time zone. A weekday, a date without a year ('dec 24', 'the 15th'), a "
    "time alone ('at 5pm') and the first date of a repeating rule mean the next such moment: today counts "
    "only if it is all-day or its time is still ahead. 'next friday' is the same but never today; 'next "
    "week' is next Monday, 'next month' the 1st of next month, 'end of week' the coming Friday, 'this "
    "weekend' the coming Saturday. Hours without am/pm use the 24-hour clock ('at 5' is 05:00, so write "
    "'5pm'), except after 'tonight', 'afternoon', 'evening' or 'night', where 1-11 mean pm. 'morning' is "
    "09:00, 'afternoon' 15:00, 'evening' 18:00, 'tonight' 20:00, 'midnight' the end of the day named (00:00 "
    "of the next). Numeric dates other than ISO 8601 (2026-12-24) are refused, since 03/04 reads two ways: "
    "name the month ('4 mar'). 'in 2 hours' counts clock time; 'in a month' keeps the day of the month or "
    "takes the month's last day. A local time skipped by a clock change moves forward by the gap; a repeated"
    " one means the first. A monthly or yearly repeat on the 29th-31st falls on the month's last day when "
    "shorter. Completing a repeating task moves it to the first occurrence after both its date and today."
)

_EXAMPLES: Final = (
    'try "tomorrow at 9", "next friday", "in 3 days", "dec 24", "2026-12-24T09:00" or "every monday at 9am"'
)
_ONE_DAY: Final = dt.timedelta(days=1)
_PARTS_OF_DAY: Final = {
    "morning": (9, False),
    "afternoon": (15, True),
    "evening": (18, True),
    "night": (20, True),
}
_WEEKDAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WEEKDAYS: Final = {
    **{name.lower(): index for index, name in enumerate(_WEEKDAY_NAMES)},
    **{name[:3].lower(): index for index, name in enumerate(_WEEKDAY_NAMES)},
    "tues": 1, "thur": 3, "thurs": 3,
}  # fmt: skip
_MONTHS: Final = {
    **{name.lower(): index for index, name in enumerate(_MONTH_NAMES, start=1)},
    **{name[:3].lower(): index for index, name in enumerate(_MONTH_NAMES, start=1)},
    "sept": 9,
}  # fmt: skip


class DueParseError(ValueError):
    """A due text that cannot be read. The message names the text and says what works."""


class InvalidZone(DueParseError):
    """A time zone that is not an IANA name. A DueParseError, so one `except` covers both."""


class _Invalid(Exception):
    """A phrase was recognised but its values are wrong (e.g. "31 feb"); carries the reason."""


@dataclass(frozen=True)
class Recurrence:
    """A repeating rule: every `interval` units, optionally on some weekdays or on a day of the month.

    `weekdays` (0=Mon..6=Sun, sorted, distinct) only with unit "week": the rule falls on those days of every
    `interval`-th week, counted from the week of the current due. `month_day` only with "month" and "year":
    the day it falls on, clamped to the month's last day and kept for later months (a yearly rule's month is
    the due's month). Stored as `to_text()`, e.g. "week;1;0,3", "month;1;;31", "day;3".
    """

    unit: Unit
    interval: int
    weekdays: tuple[int, ...] = ()
    month_day: int | None = None

    def __post_init__(self) -> None:
        if self.unit not in get_args(Unit):
            raise ValueError(f"unknown recurrence unit {self.unit!r}")
        if type(self.interval) is not int or not 1 <= self.interval <= MAX_INTERVAL:
            raise ValueError(f"recurrence interval must be from 1 to {MAX_INTERVAL}, not {self.interval!r}")
        if self.weekdays and (
            self.unit != "week"
            or self.weekdays != tuple(sorted(set(self.weekdays)))
            or not all(type(day) is int and 0 <= day <= 6 for day in self.weekdays)
        ):
            raise ValueError(f"weekdays must be distinct, sorted 0-6 and only weekly, not {self.weekdays!r}")
        if self.month_day is not None and (
            self.unit not in ("month", "year")
            or type(self.month_day) is not int
            or not 1 <= self.month_day <= 31
        ):
            raise ValueError(f"month_day must be 1-31 and only monthly or yearly, not {self.month_day!r}")

    def to_text(self) -> str:
        """The canonical form: "unit;interval[;weekdays[;month_day]]", trailing empty fields left out."""
        parts = [self.unit, str(self.interval)]
        if self.weekdays or self.month_day is not None:
            parts.append(",".join(str(day) for day in self.weekdays))
        if self.month_day is not None:
            parts.append(str(self.month_day))
        return ";".join(parts)

    @classmethod
    def from_text(cls, text: str) -> Recurrence:
        """Read `to_text()` output back; anything not in canonical form is a ValueError."""
        match = _RULE_TEXT.fullmatch(text)
        if match is None:
            raise ValueError(f"not a stored recurrence: {text!r}")
        unit, interval, weekdays, month_day = match.groups()
        try:
            rule = cls(
                unit=_UNIT_NAMES[unit],
                interval=int(interval),
                weekdays=tuple(int(day) for day in weekdays.split(",")) if weekdays else (),
                month_day=int(month_day) if month_day else None,
            )
        except ValueError as invalid:
            raise ValueError(f"not a stored recurrence: {text!r} ({invalid})") from invalid
        if rule.to_text() != text:
            raise ValueError(f"not a stored recurrence: {text!r}")
        return rule


_RULE_TEXT: Final = re.compile(
    r"(day|week|month|year);(\d{1,3})(?:;([0-6](?:,[0-6])*)?(?:;(\d{1,2}))?)?", re.A
)


@dataclass(frozen=True)
class Due:
    """A resolved due: a local date, an optional local wall time, the zone they are in, what was asked."""

    date: dt.date
    time: dt.time | None
    timezone: str
    string: str
    recurrence: Recurrence | None

    @property
    def is_recurring(self) -> bool:
        return self.recurrence is not None

    def datetime(self) -> dt.datetime | None:
        """The aware moment in `timezone`, or None when all-day. See `_local_moment` for clock changes."""
        if self.time is None:
            return None
        return _local_moment(self.date, self.time, ZoneInfo(self.timezone))

    def to_json(self) -> dict[str, object]:
        """The wire shape (Todoist's fields): date, datetime (ISO 8601 with offset, or None), timezone, ..."""
        moment = self.datetime()
        return {
            "date": self.date.isoformat(),
            "datetime": moment.isoformat() if moment is not None else None,
            "timezone": self.timezone,
            "string": self.string,
            "is_recurring": self.is_recurring,
        }


def _local_moment(date: dt.date, time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The wall time on `date` in `zone`. A time skipped by a clock change moves forward by the gap
    (02:30 on a 02:00->03:00 night is 03:30); a repeated time is the first one unless `time.fold` is 1."""
    local = dt.datetime.combine(date, time, tzinfo=zone)
    probe = local.replace(fold=0).astimezone(dt.UTC).astimezone(zone)
    if probe.replace(tzinfo=None) != local.replace(tzinfo=None):
        return probe
    return local


@cache
def _zone_keys() -> dict[str, str]:
    """Lower-cased IANA names to their keys, read from the tz database once, on first use."""
    excluded = {"localtime", "posixrules", "factory"}
    return {key.lower(): key for key in available_timezones() if key.lower() not in excluded}


def check_zone(zone: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name such as "Europe/Berlin" (case-insensitive; the canonical key is used).

    Anything else, including "", file paths and "localtime", raises InvalidZone naming the zone.
    """
    key = _zone_keys().get(zone.lower()) if isinstance(zone, str) and len(zone) <= 64 else None
    if key is None:
        shown = zone[:64] if isinstance(zone, str) else repr(zone)
        raise InvalidZone(f'unknown time zone "{shown}": use an IANA name such as "Europe/Berlin" or "UTC"')
    return ZoneInfo(key)


# --- Reading text -------------------------------------------------------------------------------------------

_Next = Callable[[dt.date], dt.date]


@dataclass(frozen=True)
class _Clock:
    """A time of day as written; `time()` applies am/pm and the evening hint."""

    hour: int
    minute: int = 0
    second: int = 0
    meridiem: str | None = None
    midnight: bool = False

    def time(self, evening: bool) -> dt.time:
        hour = self.hour
        if self.meridiem == "pm" and hour != 12:
            hour += 12
        elif self.meridiem == "am" and hour == 12:
            hour = 0
        elif self.meridiem is None and evening and 1 <= hour <= 11:
            hour += 12
        return dt.time(hour, self.minute, self.second)


@dataclass(frozen=True)
class _When:
    """What a phrase (without its clock time) means before settling against `now`.

    `date` is the date, or for phrases meaning "the next such day" the first day that may count, with
    `again` giving the next such day on or after a date. `exact` marks a moment ("in 2 hours") that takes
    no other time. `rule` and `rule_month` (a yearly rule's month) make it repeat.
    """

    date: dt.date
    time: dt.time | None = None
    evening: bool = False
    exact: bool = False
    again: _Next | None = field(default=None, compare=False)
    rule: Recurrence | None = None
    rule_month: int | None = None


@dataclass(frozen=True)
class _Context:
    now: dt.datetime  # aware, in `zone`
    today: dt.date
    zone: ZoneInfo


def _alternation(words: dict[str, int]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_WD: Final = rf"(?:{_alternation(_WEEKDAYS)})"
_WD_LIST: Final = rf"{_WD}(?:(?:\s*&\s*|\s+and\s+|\s+){_WD})*"
_MON: Final = rf"(?:{_alternation(_MONTHS)})"
_ORDINAL: Final = r"(?:st|nd|rd|th)"
_CLOCK_SOURCE: Final = (
    r"(?:noon|midday|midnight|\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{1,2}:\d{2}(?::\d{2})?|\d{1,2})"
)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


_MERIDIEM_DOTS: Final = _rx(r"\b([ap])\.m\b\.?")
_TRAILING: Final = re.compile(r"[\s.,;:!?]+$")
_CLOCK: Final = _rx(
    r"(?P<word>noon|midday|midnight)"
    r"|(?P<h12>\d{1,2})(?::(?P<m12>\d{2}))?\s*(?P<mer>am|pm)"
    r"|(?P<h24>\d{1,2}):(?P<m24>\d{2})(?::(?P<s24>\d{2}))?"
    r"|(?P<bare>\d{1,2})"
)
_CLOCK_LAST: Final = _rx(rf"(?:(?P<body>.*?)\s+)?(?P<at>at\s+)?(?P<clock>{_CLOCK_SOURCE})")
_CLOCK_FIRST: Final = _rx(rf"(?P<at>at\s+)?(?P<clock>{_CLOCK_SOURCE})(?:\s+(?P<body>.+))?")
_ISO_MOMENT: Final = _rx(
    r"\d{4}-\d{2}-\d{2}[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:z|[+-]\d{2}(?::?\d{2})?)?"
)
_FILLER: Final = _rx(r"(?:on|by|due(?:\s+(?:on|by))?)\s+(?P<rest>.+)")


def _normalise(text: str) -> str:
    """Lower case, "p.m." as "pm", "@" as "at", commas as spaces, no trailing punctuation, single spaces."""
    lowered = _MERIDIEM_DOTS.sub(r"\1m", text.lower()).replace("@", " at ").replace(",", " ")
    return " ".join(_TRAILING.sub("", lowered).split())


def _read_clock(text: str, after_at: bool) -> _Clock | None:
    """A clock time; a bare hour ("9") counts only after "at". Impossible values raise _Invalid."""
    match = _CLOCK.fullmatch(text)
    if match is None or (match["bare"] is not None and not after_at):
        return None
    if match["word"] is not None:
        return _Clock(0, midnight=True) if match["word"] == "midnight" else _Clock(12)
    if match["h12"] is not None:
        hour, minute, second, meridiem = int(match["h12"]), int(match["m12"] or 0), 0, match["mer"]
        if not 1 <= hour <= 12:
            raise _Invalid(f"there is no {hour}{meridiem}")
    else:
        hour = int(match["h24"] or match["bare"])
        minute, second, meridiem = int(match["m24"] or 0), int(match["s24"] or 0), None
        if hour > 23:
            raise _Invalid(f"there is no hour {hour} (use 0-23, or 1-12 with am/pm)")
    if minute > 59 or second > 59:
        raise _Invalid("minutes and seconds go up to 59")
    return _Clock(hour, minute, second, meridiem)


def _readings(text: str) -> Iterator[tuple[str, _Clock | _Invalid | None]]:
    """Ways to read the text: a clock time at its end, then at its start, then none."""
    for pattern in (_CLOCK_LAST, _CLOCK_FIRST):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        try:
            clock = _read_clock(match["clock"], match["at"] is not None)
        except _Invalid as invalid:
            yield text, invalid
            continue
        if clock is not None:
            yield match["body"] or "", clock
    yield text, None


# --- Dates and their arithmetic -----------------------------------------------------------------------------


def _clamped(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, monthrange(year, month)[1]))


def _add_months(date: dt.date, months: int) -> dt.date:
    index = date.year * 12 + date.month - 1 + months
    return _clamped(index // 12, index % 12 + 1, date.day)


def _on_weekday(weekday: int, start: dt.date) -> dt.date:
    return start + dt.timedelta(days=(weekday - start.weekday()) % 7)


def _on_weekdays(weekdays: tuple[int, ...], start: dt.date) -> dt.date:
    return min(_on_weekday(day, start) for day in weekdays)


def _on_month_day(month: int, day: int, start: dt.date) -> dt.date:
    """The next `day` of `month` on or after `start` that exists (Feb 29 waits for a leap year)."""
    for year in range(start.year, start.year + 9):
        if day <= monthrange(year, month)[1] and (found := dt.date(year, month, day)) >= start:
            return found
    raise _Invalid("the date is out of range")


def _on_day_of_month(day: int, start: dt.date) -> dt.date:
    """The next `day` of any month on or after `start`, skipping months too short for it."""
    for months in range(3):
        first = _add_months(start.replace(day=1), months)
        if day <= monthrange(first.year, first.month)[1] and (found := first.replace(day=day)) >= start:
            return found
    raise _Invalid("the date is out of range")


def _first_of_rule(rule: Recurrence, month: int | None, start: dt.date) -> dt.date:
    """A rule's first occurrence on or after `start`; rules with no day of their own begin on `start`."""
    if rule.weekdays:
        return _on_weekdays(rule.weekdays, start)
    if rule.month_day is None:
        return start
    if rule.unit == "month":
        found = _clamped(start.year, start.month, rule.month_day)
        return found if found >= start else _clamped(*_month_after(start), rule.month_day)
    assert month is not None  # a yearly rule with a day always names its month
    found = _clamped(start.year, month, rule.month_day)
    return found if found >= start else _clamped(start.year + 1, month, rule.month_day)


def _month_after(date: dt.date) -> tuple[int, int]:
    return (date.year + 1, 1) if date.month == 12 else (date.year, date.month + 1)


def _check_month_day(month: int, day: int) -> None:
    if not 1 <= day <= (29 if month == 2 else monthrange(2001, month)[1]):
        raise _Invalid(f"{_MONTH_NAMES[month - 1]} has no day {day}")


# --- Phrase handlers: each takes a full match of a normalised body and returns what it means -------------

_Handler = Callable[[re.Match[str], _Context], _When | None]
_DAY_WORDS: Final = {"today": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1, "yesterday": -1}


def _day_word(match: re.Match[str], ctx: _Context) -> _When:
    word = match[0]
    if word == "tonight":
        return _When(ctx.today, dt.time(20), evening=True)
    if word.endswith("after tomorrow"):
        return _When(ctx.today + 2 * _ONE_DAY)
    return _When(ctx.today + _DAY_WORDS[word] * _ONE_DAY)


def _part_of_day(match: re.Match[str], ctx: _Context) -> _When | None:
    inner = match["inner"]
    if inner == "this":
        when: _When | None = _When(ctx.today)
    elif inner == "every":
        when = _repeat(ctx, Recurrence("day", 1))
    else:
        when = _read_body(inner, ctx)
    if when is None or when.time is not None or when.exact:
        return None
    hour, evening = _PARTS_OF_DAY[match["part"]]
    return replace(when, time=dt.time(hour), evening=evening)


def _same_day(start: dt.date) -> dt.date:
    return start


def _weekday(match: re.Match[str], ctx: _Context) -> _When:
    start = ctx.today + _ONE_DAY if match["mod"] == "next" else ctx.today
    return _When(start, again=partial(_on_weekday, _WEEKDAYS[match["wd"]]))


def _next_period(match: re.Match[str], ctx: _Context) -> _When:
    today = ctx.today
    if match["unit"] == "week":
        return _When(today + dt.timedelta(days=7 - today.weekday()))
    if match["unit"] == "month":
        return _When(dt.date(*_month_after(today), 1))
    return _When(dt.date(today.year + 1, 1, 1))


def _weekend(match: re.Match[str], ctx: _Context) -> _When:
    today = ctx.today
    saturday = today if today.weekday() == 6 else _on_weekday(5, today)
    return _When(saturday + dt.timedelta(days=7) if match["which"] == "next" else saturday)


def _end_of(match: re.Match[str], ctx: _Context) -> _When:
    today = ctx.today
    if match["unit"] == "week":
        return _When(_on_weekday(4, today))
    if match["unit"] == "month":
        return _When(_clamped(today.year, today.month, 31))
    return _When(dt.date(today.year, 12, 31))


_AMOUNT_WORDS: Final = {"a": 1, "an": 1, "one": 1}


def _relative(match: re.Match[str], ctx: _Context) -> _When:
    amount = _AMOUNT_WORDS.get(match["n"]) or int(match["n"])
    unit = match["unit"]
    try:
        if unit in ("min", "minute", "hr", "hour"):
            minutes = amount * (60 if unit in ("hr", "hour") else 1)
            return _in_minutes(minutes, ctx)
        if unit in ("day", "week"):
            return _When(ctx.today + dt.timedelta(days=amount * (7 if unit == "week" else 1)))
        return _When(_add_months(ctx.today, amount * (12 if unit == "year" else 1)))
    except (OverflowError, ValueError):
        raise _Invalid("the date is out of range") from None


def _half_hour(match: re.Match[str], ctx: _Context) -> _When:
    return _in_minutes(30, ctx)


def _in_minutes(minutes: int, ctx: _Context) -> _When:
    """Clock time, not wall time: counted in UTC, so "in 2 hours" across a clock change is two hours.
    Seconds are dropped; `fold` is kept, so a repeated hour's second pass stays the second."""
    moment = (ctx.now.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)).astimezone(ctx.zone)
    return _When(moment.date(), moment.time().replace(second=0, microsecond=0), exact=True)


def _iso_date(match: re.Match[str], ctx: _Context) -> _When:
    try:
        return _When(dt.date.fromisoformat(match[0]))
    except ValueError:
        raise _Invalid(f"{match[0]} is not a calendar date") from None


def _named_month(match: re.Match[str], ctx: _Context) -> _When:
    month, day = _MONTHS[match["mon"]], int(match["day"])
    _check_month_day(month, day)
    if not match["year"]:
        return _When(ctx.today, again=partial(_on_month_day, month, day))
    year = int(match["year"])
    if month == 2 and day == 29 and not isleap(year):
        raise _Invalid(f"{year} is not a leap year")
    return _When(dt.date(year, month, day))


def _day_of_month(match: re.Match[str], ctx: _Context) -> _When:
    day = int(match["day"])
    if not 1 <= day <= 31:
        raise _Invalid(f"no month has a day {day}")
    return _When(ctx.today, again=partial(_on_day_of_month, day))


def _interval(text: str | None, other: str | None) -> int:
    if other:
        return 2
    interval = int(text) if text else 1
    if not 1 <= interval <= MAX_INTERVAL:
        raise _Invalid(f"the interval must be from 1 to {MAX_INTERVAL}")
    return interval


def _repeat(ctx: _Context, rule: Recurrence, month: int | None = None) -> _When:
    return _When(ctx.today, again=partial(_first_of_rule, rule, month), rule=rule, rule_month=month)


_ADVERB_UNITS: Final[dict[str, Unit]] = {
    "daily": "day", "weekly": "week", "monthly": "month", "yearly": "year", "annually": "year",
}  # fmt: skip


def _every_unit(match: re.Match[str], ctx: _Context) -> _When | None:
    unit: Unit = _ADVERB_UNITS[match["adverb"]] if match["adverb"] else _UNIT_NAMES[match["unit"]]
    interval = 1 if match["adverb"] else _interval(match["n"], match["other"])
    tail = match["on"]
    if tail is None:
        return _repeat(ctx, Recurrence(unit, interval))
    if unit == "week" and (days := _weekday_list(tail)) is not None:
        return _repeat(ctx, Recurrence(unit, interval, weekdays=days))
    if unit == "month" and (day := _month_day_tail(tail)) is not None:
        return _repeat(ctx, Recurrence(unit, interval, month_day=day))
    if unit == "year" and (when := _read_month_date(tail)) is not None:
        return _repeat(ctx, Recurrence(unit, interval, month_day=when[1]), month=when[0])
    return None


def _weekday_list(text: str) -> tuple[int, ...] | None:
    if _WEEKDAY_LIST.fullmatch(text) is None:
        return None
    return tuple(sorted({_WEEKDAYS[word] for word in _WEEKDAY_WORD.findall(text)}))


def _month_day_tail(text: str) -> int | None:
    match = _MONTH_DAY_TAIL.fullmatch(text)
    if match is None:
        return None
    day = 31 if match["last"] else int(match["day"])
    if not 1 <= day <= 31:
        raise _Invalid(f"no month has a day {day}")
    return day


def _read_month_date(text: str) -> tuple[int, int] | None:
    """(month, day) for "dec 24" / "24 dec" / "the 24th of december", without a year."""
    for pattern in (_MONTH_FIRST, _DAY_FIRST):
        match = pattern.fullmatch(text)
        if match is not None and not match["year"]:
            month, day = _MONTHS[match["mon"]], int(match["day"])
            _check_month_day(month, day)
            return month, day
    return None


def _every_weekdays(match: re.Match[str], ctx: _Context) -> _When:
    days = _weekday_list(match["days"])
    assert days is not None  # the pattern only matches weekday lists
    return _repeat(ctx, Recurrence("week", 2 if match["other"] else 1, weekdays=days))


def _every_workday(match: re.Match[str], ctx: _Context) -> _When:
    days = (5, 6) if match[0].startswith("every weekend") else (0, 1, 2, 3, 4)
    return _repeat(ctx, Recurrence("week", 1, weekdays=days))


def _every_month_day(match: re.Match[str], ctx: _Context) -> _When | None:
    day = _month_day_tail(match["tail"])
    return None if day is None else _repeat(ctx, Recurrence("month", 1, month_day=day))


def _every_date(match: re.Match[str], ctx: _Context) -> _When | None:
    found = _read_month_date(match["tail"])
    return None if found is None else _repeat(ctx, Recurrence("year", 1, month_day=found[1]), month=found[0])


_WEEKDAY_WORD: Final = _rx(_WD)
_WEEKDAY_LIST: Final = _rx(_WD_LIST)
_MONTH_DAY_TAIL: Final = _rx(rf"(?:the\s+)?(?:(?P<day>\d{{1,2}}){_ORDINAL}?|(?P<last>last\s+day))")
_MONTH_FIRST: Final = _rx(rf"(?P<mon>{_MON})\s+(?P<day>\d{{1,2}}){_ORDINAL}?(?:\s+(?P<year>\d{{4}}))?")
_DAY_FIRST: Final = _rx(
    rf"(?:the\s+)?(?P<day>\d{{1,2}}){_ORDINAL}?\s+(?:of\s+)?(?P<mon>{_MON})(?:\s+(?P<year>\d{{4}}))?"
)
_OF_MONTH: Final = r"(?:\s+of\s+(?:the|every)\s+month)?"

_HANDLERS: Final[tuple[tuple[re.Pattern[str], _Handler], ...]] = (
    (_rx(r"today|tomorrow|tmrw|tmr|yesterday|tonight|(?:the\s+)?day\s+after\s+tomorrow"), _day_word),
    (_rx(rf"(?:(?P<mod>this|next|coming)\s+)?(?P<wd>{_WD})"), _weekday),
    (_rx(r"(?P<inner>.+?)\s+(?:in\s+the\s+|at\s+)?(?P<part>morning|afternoon|evening|night)"), _part_of_day),
    (_rx(r"next\s+(?P<unit>week|month|year)"), _next_period),
    (_rx(r"(?P<which>this|next)\s+weekend"), _weekend),
    (_rx(r"(?:the\s+)?end\s+of\s+(?:the\s+)?(?P<unit>week|month|year)"), _end_of),
    (_rx(r"in\s+(?P<n>\d{1,4}|an?|one)\s+(?P<unit>min|minute|hr|hour|day|week|month|year)s?"), _relative),
    (_rx(r"in\s+half\s+an\s+hour"), _half_hour),
    (_rx(r"\d{4}-\d{2}-\d{2}"), _iso_date),
    (_MONTH_FIRST, _named_month),
    (_DAY_FIRST, _named_month),
    (_rx(rf"the\s+(?P<day>\d{{1,2}}){_ORDINAL}"), _day_of_month),
    (
        _rx(
            r"(?:(?P<adverb>daily|weekly|monthly|yearly|annually)|every\s+(?:(?P<n>\d{1,4})\s+|(?P<other>other)\s+)?"
            r"(?P<unit>day|week|month|year)s?)(?:\s+on\s+(?P<on>.+))?"
        ),
        _every_unit,
    ),
    (_rx(rf"every\s+(?P<other>other\s+)?(?P<days>{_WD_LIST})"), _every_weekdays),
    (_rx(r"every\s+(?:weekday|workday|weekend)(?:\s+day)?"), _every_workday),
    (_rx(rf"every\s+(?P<tail>(?:the\s+)?(?:\d{{1,2}}{_ORDINAL}|last\s+day)){_OF_MONTH}"), _every_month_day),
    (_rx(r"every\s+(?P<tail>.+)"), _every_date),
)


def _read_body(body: str, ctx: _Context) -> _When | None:
    """What a phrase without its clock time means, or None if no handler recognises it."""
    filler = _FILLER.fullmatch(body)
    if filler is not None:
        body = filler["rest"]
    if not body:
        return _When(ctx.today, again=_same_day)
    for pattern, handler in _HANDLERS:
        match = pattern.fullmatch(body)
        if match is not None and (when := handler(match, ctx)) is not None:
            return when
    return None


def _settle(when: _When, clock: _Clock | None, ctx: _Context) -> tuple[dt.date, dt.time | None]:
    """The date and time a phrase means at `ctx.now`: "the next such day" moves on past a time gone by."""
    if clock is not None and when.exact:
        raise _Invalid("it already says the time")
    time = clock.time(when.evening) if clock is not None else when.time
    midnight = clock is not None and clock.midnight
    date = when.date if when.again is None else when.again(when.date)
    shift = dt.timedelta(days=1 if midnight else 0)
    if when.again is not None and time is not None and _local_moment(date + shift, time, ctx.zone) <= ctx.now:
        date = when.again(date + _ONE_DAY)
    return date + shift, time


def _require_aware(moment: dt.datetime, name: str) -> None:
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _error(text: str, reason: str | None = None) -> DueParseError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    because = f": {reason}" if reason else ""
    return DueParseError(f'cannot read "{shown}" as a date{because}; {_EXAMPLES}')


def _iso_moment(text: str, zone: ZoneInfo) -> tuple[dt.date, dt.time] | None:
    if _ISO_MOMENT.fullmatch(text) is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.upper())
        local = parsed.astimezone(zone) if parsed.tzinfo is not None else parsed
    except (ValueError, OverflowError):
        raise _Invalid("it is not a calendar date and time") from None
    return local.date(), local.time().replace(microsecond=0)


def parse_due(text: str, now: dt.datetime, zone: str) -> Due:
    """Read a due phrase, resolved in `zone` relative to the aware `now` (rules: AMBIGUITY_RULES).

    Accepted, case-insensitive, extra spaces and trailing punctuation ignored, at most 200 characters:
    ISO 8601 ("2026-12-24", "2026-12-24T09:00", with an offset it is converted to `zone`); "today",
    "tonight", "tomorrow", "yesterday", "day after tomorrow", "this evening", "<day> morning|afternoon|
    evening|night", "noon", "midnight"; weekdays ("fri", "on friday", "this/next friday"); "in N
    minutes|hours|days|weeks|months|years" ("a"/"an" for 1), "next week|month|year", "end of
    week|month|year", "this/next weekend"; month names ("dec 24", "24th of december 2027") and "the 15th";
    a time before or after any of them ("at 9", "9:30pm", "21:00", "at noon"); and repeats ("daily",
    "every weekday", "every mon and thu at 9am", "every other week", "every 2 weeks on friday", "every
    month on the 15th", "every 31st", "every jan 1", "yearly"). An optional leading "on", "by" or "due"
    is ignored. Numeric dates other than ISO and bare numbers ("tomorrow 9") are refused.

    Raises DueParseError naming the text when it cannot be read, and InvalidZone (a DueParseError) for a
    zone that is not an IANA name.
    """
    tz = check_zone(zone)
    _require_aware(now, "now")
    asked = text.strip()
    if len(asked) > MAX_TEXT_LENGTH:
        raise _error(asked, f"it is longer than {MAX_TEXT_LENGTH} characters")
    normal = _normalise(asked)
    if not normal:
        raise _error(asked, "it is empty")
    local_now = now.astimezone(tz)
    try:
        date, time, rule = _resolve(normal, _Context(local_now, local_now.date(), tz), tz)
    except _Invalid as invalid:
        raise _error(asked, str(invalid)) from None
    if not MIN_YEAR <= date.year <= MAX_YEAR:
        raise _error(asked, f"it is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return Due(date=date, time=time, timezone=tz.key, string=asked, recurrence=rule)


def _resolve(text: str, ctx: _Context, zone: ZoneInfo) -> tuple[dt.date, dt.time | None, Recurrence | None]:
    """Try each reading; the first that resolves wins, else the first specific reason, else unreadable."""
    iso = _iso_moment(text, zone)
    if iso is not None:
        return iso[0], iso[1], None
    reason: _Invalid | None = None
    for body, clock in _readings(text):
        if isinstance(clock, _Invalid):
            reason = reason or clock
            continue
        try:
            when = _read_body(body, ctx)
            if when is None:
                continue
            date, time = _settle(when, clock, ctx)
        except _Invalid as invalid:
            reason = reason or invalid
            continue
        return date, time, _anchored(when, date)
    raise reason or _Invalid("")


def _anchored(when: _When, date: dt.date) -> Recurrence | None:
    """Monthly and yearly rules remember the day they started on, so a 31st survives February."""
    rule = when.rule
    if rule is not None and rule.unit in ("month", "year") and rule.month_day is None:
        return replace(rule, month_day=date.day)
    return rule


# --- Repeating, describing, splitting -----------------------------------------------------------------------


def next_occurrence(due: Due, after: dt.datetime) -> Due:
    """The due a repeating task moves to when completed at `after` (aware).

    Todoist's semantics: the first occurrence of the rule whose date is strictly after both the current due
    date and `after`'s date in the due's zone (so an overdue task skips the dates already gone, today
    included). Occurrences are counted from the current due: every N days or weeks from it; on the rule's
    weekdays in every N-th week from its week; every N months or years from it on `month_day` (or its day),
    clamped to the month's last day. The wall-clock time, `string`, `recurrence` and `timezone` stay, so
    09:00 stays 09:00 local across a clock change. Raises ValueError if the due does not repeat.
    """
    rule = due.recurrence
    if rule is None:
        raise ValueError("the due does not repeat")
    _require_aware(after, "after")
    today = after.astimezone(ZoneInfo(due.timezone)).date()
    return replace(due, date=_occurrence_after(rule, due.date, max(due.date, today)))


def _occurrence_after(rule: Recurrence, anchor: dt.date, base: dt.date) -> dt.date:
    if rule.unit == "day" or (rule.unit == "week" and not rule.weekdays):
        step = rule.interval * (7 if rule.unit == "week" else 1)
        return anchor + dt.timedelta(days=step * ((base - anchor).days // step + 1))
    if rule.unit == "week":
        monday = anchor - dt.timedelta(days=anchor.weekday())
        weeks = (base - monday).days // 7 // rule.interval * rule.interval
        candidates = (
            monday + dt.timedelta(weeks=week, days=day)
            for week in (weeks, weeks + rule.interval)
            for day in rule.weekdays
        )
        return next(day for day in candidates if day > base)
    months_per_step = rule.interval * (12 if rule.unit == "year" else 1)
    day = rule.month_day or anchor.day
    start = anchor.year * 12 + anchor.month - 1
    steps = max(1, (base.year * 12 + base.month - 1 - start) // months_per_step)
    while True:
        index = start + steps * months_per_step
        found = _clamped(index // 12, index % 12 + 1, day)
        if found > base:
            return found
        steps += 1


def describe_due(due: Due, now: dt.datetime) -> str:
    """The due for people, in its own zone: "today, 09:00", "tomorrow, Fri 4 Dec, 09:00", "Mon 7 Dec",
    "Thu 24 Dec 2027" (a year only when not this year), "yesterday", "3 days ago (Mon 30 Nov)", and for a
    repeating due "every Monday, next Mon 7 Dec, 09:00". Times are the resolved local wall time."""
    _require_aware(now, "now")
    today = now.astimezone(ZoneInfo(due.timezone)).date()
    moment = due.datetime()
    day = moment.date() if moment is not None else due.date
    parts = [_describe_rule(due.recurrence, due.date)] if due.recurrence is not None else []
    parts.append(_describe_day(day, today, repeating=due.recurrence is not None))
    if moment is not None:
        parts.append(moment.strftime("%H:%M"))
    return ", ".join(parts)


def _short_date(day: dt.date, today: dt.date) -> str:
    text = f"{_WEEKDAY_NAMES[day.weekday()][:3]} {day.day} {_MONTH_NAMES[day.month - 1][:3]}"
    return text if day.year == today.year else f"{text} {day.year}"


def _describe_day(day: dt.date, today: dt.date, repeating: bool) -> str:
    delta = (day - today).days
    if delta == 0:
        return "today"
    if delta == 1:
        return f"tomorrow, {_short_date(day, today)}"
    if delta == -1:
        return "yesterday"
    if delta < 0:
        return f"{-delta} days ago ({_short_date(day, today)})"
    return f"next {_short_date(day, today)}" if repeating else _short_date(day, today)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _day_list(days: tuple[int, ...]) -> str:
    if len(days) == 1:
        return _WEEKDAY_NAMES[days[0]]
    names = [_WEEKDAY_NAMES[day][:3] for day in days]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _describe_rule(rule: Recurrence, date: dt.date) -> str:
    every = "every" if rule.interval == 1 else f"every {rule.interval}"
    plural = "" if rule.interval == 1 else "s"
    if rule.unit == "day":
        return f"{every} day{plural}"
    if rule.unit == "week":
        if not rule.weekdays:
            return f"{every} week{plural}"
        if rule.interval == 1 and rule.weekdays in ((0, 1, 2, 3, 4), (5, 6)):
            return "every weekday" if rule.weekdays[0] == 0 else "every weekend"
        days = _day_list(rule.weekdays)
        return f"every {days}" if rule.interval == 1 else f"{every} weeks on {days}"
    day = rule.month_day or date.day
    if rule.unit == "month":
        return f"{every} month{plural} on the {_ordinal(day)}"
    return f"{every} year{plural} on {day} {_MONTH_NAMES[date.month - 1][:3]}"


_SPLIT_NOW: Final = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
_MAX_PHRASE_WORDS: Final = 8
_WORD: Final = re.compile(r"\S+")
_EDGE_SEPARATORS: Final = re.compile(r"^[\s,;:\-\u2013\u2014]+|[\s,;:\-\u2013\u2014]+$")
_NEVER_ALONE: Final = frozenset({name for name in _WEEKDAYS if len(name) < 6} | {"midnight", "noon"})


def _is_due_phrase(phrase: str) -> bool:
    """A phrase parse_due accepts, other than one word that is usually something else ("sun", "wed")."""
    if _normalise(phrase) in _NEVER_ALONE:
        return False
    try:
        parse_due(phrase, _SPLIT_NOW, "UTC")
    except DueParseError:
        return False
    return True


def _longest_phrase(text: str, spans: list[tuple[int, int]], at_end: bool) -> tuple[str, str] | None:
    for count in range(min(len(spans) - 1, _MAX_PHRASE_WORDS), 0, -1):
        cut = spans[-count][0] if at_end else spans[count - 1][1]
        title, phrase = (text[:cut], text[cut:]) if at_end else (text[cut:], text[:cut])
        title = _EDGE_SEPARATORS.sub("", title)
        if any(char.isalnum() for char in title) and _is_due_phrase(phrase):
            return title, _TRAILING.sub("", phrase.strip())
    return None


def split_due_phrase(text: str) -> tuple[str, str | None]:
    """Split a due phrase off the start or end of a sentence: "call mom tomorrow at 9" and "tomorrow at 9
    call mom" give ("call mom", "tomorrow at 9"); "buy milk" gives ("buy milk", None).

    Only phrases parse_due accepts count, the longest wins (the end on a tie), at most eight words, and
    something must remain. Conservative: a lone number ("read 1984", "buy 2 apples"), a month alone ("call
    may") and a short weekday word alone ("sun", "wed") are never dates.
    """
    stripped = text.strip()
    if len(stripped) > 2 * MAX_TEXT_LENGTH:
        return stripped, None
    spans = [match.span() for match in _WORD.finditer(stripped)]
    at_end = _longest_phrase(stripped, spans, at_end=True)
    at_start = _longest_phrase(stripped, spans, at_end=False)
    if at_end is None or (at_start is not None and len(at_start[1]) > len(at_end[1])):
        at_end = at_start
    if at_end is None:
        return stripped, None
    return at_end[0], at_end[1]

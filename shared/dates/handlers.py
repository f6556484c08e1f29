"""The phrase grammar: each handler takes a full match of a normalised body (a phrase without its clock
time) and returns what it means; `read_body` tries them in order."""

from __future__ import annotations

import datetime as dt
import re
from calendar import isleap
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Final

from shared.dates.days import (
    ONE_DAY,
    add_months,
    check_month_day,
    clamped,
    first_of_rule,
    month_after,
    on_day_of_month,
    on_month_day,
    on_weekday,
)
from shared.dates.errors import Invalid
from shared.dates.reading import MON, ORDINAL, WD, WD_LIST, Context, When, rx
from shared.dates.recurrence import Recurrence
from shared.dates.rules import MAX_INTERVAL
from shared.dates.vocabulary import MONTHS, UNIT_NAMES, WEEKDAYS, Unit

_PARTS_OF_DAY: Final = {
    "morning": (9, False),
    "afternoon": (15, True),
    "evening": (18, True),
    "night": (20, True),
}
_FILLER: Final = rx(r"(?:on|by|due(?:\s+(?:on|by))?)\s+(?P<rest>.+)")

_Handler = Callable[[re.Match[str], Context], When | None]
_DAY_WORDS: Final = {"today": 0, "tomorrow": 1, "tmrw": 1, "tmr": 1, "yesterday": -1}


def _day_word(match: re.Match[str], ctx: Context) -> When:
    word = match[0]
    if word == "tonight":
        return When(ctx.today, dt.time(20), evening=True)
    if word.endswith("after tomorrow"):
        return When(ctx.today + 2 * ONE_DAY)
    return When(ctx.today + _DAY_WORDS[word] * ONE_DAY)


def _part_of_day(match: re.Match[str], ctx: Context) -> When | None:
    inner = match["inner"]
    if inner == "this":
        when: When | None = When(ctx.today)
    elif inner == "every":
        when = _repeat(ctx, Recurrence("day", 1))
    else:
        when = read_body(inner, ctx)
    if when is None or when.time is not None or when.exact:
        return None
    hour, evening = _PARTS_OF_DAY[match["part"]]
    return replace(when, time=dt.time(hour), evening=evening)


def _same_day(start: dt.date) -> dt.date:
    return start


def _weekday(match: re.Match[str], ctx: Context) -> When:
    start = ctx.today + ONE_DAY if match["mod"] == "next" else ctx.today
    return When(start, again=partial(on_weekday, WEEKDAYS[match["wd"]]))


def _next_period(match: re.Match[str], ctx: Context) -> When:
    today = ctx.today
    if match["unit"] == "week":
        return When(today + dt.timedelta(days=7 - today.weekday()))
    if match["unit"] == "month":
        return When(dt.date(*month_after(today), 1))
    return When(dt.date(today.year + 1, 1, 1))


def _weekend(match: re.Match[str], ctx: Context) -> When:
    today = ctx.today
    saturday = today if today.weekday() == 6 else on_weekday(5, today)
    return When(saturday + dt.timedelta(days=7) if match["which"] == "next" else saturday)


def _end_of(match: re.Match[str], ctx: Context) -> When:
    today = ctx.today
    if match["unit"] == "week":
        return When(on_weekday(4, today))
    if match["unit"] == "month":
        return When(clamped(today.year, today.month, 31))
    return When(dt.date(today.year, 12, 31))


_AMOUNT_WORDS: Final = {"a": 1, "an": 1, "one": 1}


def _relative(match: re.Match[str], ctx: Context) -> When:
    amount = _AMOUNT_WORDS.get(match["n"]) or int(match["n"])
    unit = match["unit"]
    try:
        if unit in ("min", "minute", "hr", "hour"):
            minutes = amount * (60 if unit in ("hr", "hour") else 1)
            return _in_minutes(minutes, ctx)
        if unit in ("day", "week"):
            return When(ctx.today + dt.timedelta(days=amount * (7 if unit == "week" else 1)))
        return When(add_months(ctx.today, amount * (12 if unit == "year" else 1)))
    except (OverflowError, ValueError):
        raise Invalid("the date is out of range") from None


def _half_hour(match: re.Match[str], ctx: Context) -> When:
    return _in_minutes(30, ctx)


def _in_minutes(minutes: int, ctx: Context) -> When:
    """Clock time, not wall time: counted in UTC, so "in 2 hours" across a clock change is two hours.
    Seconds are dropped; `fold` is kept, so a repeated hour's second pass stays the second."""
    moment = (ctx.now.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)).astimezone(ctx.zone)
    return When(moment.date(), moment.time().replace(second=0, microsecond=0), exact=True)


def _iso_date(match: re.Match[str], ctx: Context) -> When:
    try:
        return When(dt.date.fromisoformat(match[0]))
    except ValueError:
        raise Invalid(f"{match[0]} is not a calendar date") from None


def _named_month(match: re.Match[str], ctx: Context) -> When:
    month, day = MONTHS[match["mon"]], int(match["day"])
    check_month_day(month, day)
    if not match["year"]:
        return When(ctx.today, again=partial(on_month_day, month, day))
    year = int(match["year"])
    if month == 2 and day == 29 and not isleap(year):
        raise Invalid(f"{year} is not a leap year")
    return When(dt.date(year, month, day))


def _day_of_month(match: re.Match[str], ctx: Context) -> When:
    day = int(match["day"])
    if not 1 <= day <= 31:
        raise Invalid(f"no month has a day {day}")
    return When(ctx.today, again=partial(on_day_of_month, day))


def _interval(text: str | None, other: str | None) -> int:
    if other:
        return 2
    interval = int(text) if text else 1
    if not 1 <= interval <= MAX_INTERVAL:
        raise Invalid(f"the interval must be from 1 to {MAX_INTERVAL}")
    return interval


def _repeat(ctx: Context, rule: Recurrence, month: int | None = None) -> When:
    return When(ctx.today, again=partial(first_of_rule, rule, month), rule=rule, rule_month=month)


_ADVERB_UNITS: Final[dict[str, Unit]] = {
    "daily": "day", "weekly": "week", "monthly": "month", "yearly": "year", "annually": "year",
}  # fmt: skip


def _every_unit(match: re.Match[str], ctx: Context) -> When | None:
    unit: Unit = _ADVERB_UNITS[match["adverb"]] if match["adverb"] else UNIT_NAMES[match["unit"]]
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
    return tuple(sorted({WEEKDAYS[word] for word in _WEEKDAY_WORD.findall(text)}))


def _month_day_tail(text: str) -> int | None:
    match = _MONTH_DAY_TAIL.fullmatch(text)
    if match is None:
        return None
    day = 31 if match["last"] else int(match["day"])
    if not 1 <= day <= 31:
        raise Invalid(f"no month has a day {day}")
    return day


def _read_month_date(text: str) -> tuple[int, int] | None:
    """(month, day) for "dec 24" / "24 dec" / "the 24th of december", without a year."""
    for pattern in (_MONTH_FIRST, _DAY_FIRST):
        match = pattern.fullmatch(text)
        if match is not None and not match["year"]:
            month, day = MONTHS[match["mon"]], int(match["day"])
            check_month_day(month, day)
            return month, day
    return None


def _every_weekdays(match: re.Match[str], ctx: Context) -> When:
    days = _weekday_list(match["days"])
    assert days is not None  # the pattern only matches weekday lists
    return _repeat(ctx, Recurrence("week", 2 if match["other"] else 1, weekdays=days))


def _every_workday(match: re.Match[str], ctx: Context) -> When:
    days = (5, 6) if match[0].startswith("every weekend") else (0, 1, 2, 3, 4)
    return _repeat(ctx, Recurrence("week", 1, weekdays=days))


def _every_month_day(match: re.Match[str], ctx: Context) -> When | None:
    day = _month_day_tail(match["tail"])
    return None if day is None else _repeat(ctx, Recurrence("month", 1, month_day=day))


def _every_date(match: re.Match[str], ctx: Context) -> When | None:
    found = _read_month_date(match["tail"])
    return None if found is None else _repeat(ctx, Recurrence("year", 1, month_day=found[1]), month=found[0])


_WEEKDAY_WORD: Final = rx(WD)
_WEEKDAY_LIST: Final = rx(WD_LIST)
_MONTH_DAY_TAIL: Final = rx(rf"(?:the\s+)?(?:(?P<day>\d{{1,2}}){ORDINAL}?|(?P<last>last\s+day))")
_MONTH_FIRST: Final = rx(rf"(?P<mon>{MON})\s+(?P<day>\d{{1,2}}){ORDINAL}?(?:\s+(?P<year>\d{{4}}))?")
_DAY_FIRST: Final = rx(
    rf"(?:the\s+)?(?P<day>\d{{1,2}}){ORDINAL}?\s+(?:of\s+)?(?P<mon>{MON})(?:\s+(?P<year>\d{{4}}))?"
)
_OF_MONTH: Final = r"(?:\s+of\s+(?:the|every)\s+month)?"

_HANDLERS: Final[tuple[tuple[re.Pattern[str], _Handler], ...]] = (
    (rx(r"today|tomorrow|tmrw|tmr|yesterday|tonight|(?:the\s+)?day\s+after\s+tomorrow"), _day_word),
    (rx(rf"(?:(?P<mod>this|next|coming)\s+)?(?P<wd>{WD})"), _weekday),
    (rx(r"(?P<inner>.+?)\s+(?:in\s+the\s+|at\s+)?(?P<part>morning|afternoon|evening|night)"), _part_of_day),
    (rx(r"next\s+(?P<unit>week|month|year)"), _next_period),
    (rx(r"(?P<which>this|next)\s+weekend"), _weekend),
    (rx(r"(?:the\s+)?end\s+of\s+(?:the\s+)?(?P<unit>week|month|year)"), _end_of),
    (rx(r"in\s+(?P<n>\d{1,4}|an?|one)\s+(?P<unit>min|minute|hr|hour|day|week|month|year)s?"), _relative),
    (rx(r"in\s+half\s+an\s+hour"), _half_hour),
    (rx(r"\d{4}-\d{2}-\d{2}"), _iso_date),
    (_MONTH_FIRST, _named_month),
    (_DAY_FIRST, _named_month),
    (rx(rf"the\s+(?P<day>\d{{1,2}}){ORDINAL}"), _day_of_month),
    (
        rx(
            r"(?:(?P<adverb>daily|weekly|monthly|yearly|annually)|every\s+(?:(?P<n>\d{1,4})\s+|(?P<other>other)\s+)?"
            r"(?P<unit>day|week|month|year)s?)(?:\s+on\s+(?P<on>.+))?"
        ),
        _every_unit,
    ),
    (rx(rf"every\s+(?P<other>other\s+)?(?P<days>{WD_LIST})"), _every_weekdays),
    (rx(r"every\s+(?:weekday|workday|weekend)(?:\s+day)?"), _every_workday),
    (rx(rf"every\s+(?P<tail>(?:the\s+)?(?:\d{{1,2}}{ORDINAL}|last\s+day)){_OF_MONTH}"), _every_month_day),
    (rx(r"every\s+(?P<tail>.+)"), _every_date),
)


def read_body(body: str, ctx: Context) -> When | None:
    """What a phrase without its clock time means, or None if no handler recognises it."""
    filler = _FILLER.fullmatch(body)
    if filler is not None:
        body = filler["rest"]
    if not body:
        return When(ctx.today, again=_same_day)
    for pattern, handler in _HANDLERS:
        match = pattern.fullmatch(body)
        if match is not None and (when := handler(match, ctx)) is not None:
            return when
    return None
